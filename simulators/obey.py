"""The fleet's robots and drones obey ``.../cmd``: ``FieldDevice`` and the fleet's ``CommandDesk``.

``FieldDevice`` is what a fleet robot or drone adds to ``SimDevice``: a ``TaskExecutor``
(simulators/tasks.py, the same rules as the stand-alone ``CommandedRobot``), its answers as events
with ``cmd_id``, ``busy`` while on a task and ``online`` after it, and a step that moves the task
on. A task runs ``ctx.speed_factor`` times faster than real time (``FleetConfig.speed_factor``) so
tests and demos see it end. Subclasses say where they go (``_route``), how long they work there,
what they cannot do now, how moving drains them, and how they report the result and go back to
their patrol.

``CommandDesk`` is the fleet's side: the MQTT callback only queues what arrived (it runs inside the
publisher's network loop, where publishing again would re-enter it); ``drain`` hands the commands
to their devices between publishes. Without commands nothing here runs, so a run stays a pure
function of its config and start (tests/simulators/test_determinism.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from devices.geography import District, LatLon
from devices.payloads import Action, Command, DeviceState, FrameMeta
from devices.topics import Channel, Topic
from simulators.device import SimContext, SimDevice, SimMessage
from simulators.tasks import GridTask, Report, TaskExecutor

Sighting = tuple[str, float, float]  # label, lat, lon of something planted that a camera can see
Scene = Callable[[float, LatLon, float], list[Sighting]]  # (t, where, radius_m) -> what is there


class FieldDevice(SimDevice):
    """A robot or drone of the fleet that takes commands (see the module docstring)."""

    ACTIONS: ClassVar[frozenset[Action]]

    def __init__(self, device_id: str, district: District, ctx: SimContext) -> None:
        super().__init__(device_id, district, ctx)
        # No RNG draws here: the subclass's draws (positions, batteries) must stay in their order.
        self.executor = TaskExecutor(self.ACTIONS, 1.0, self._route, self._work_s)
        self.current: GridTask | None = None  # the task under way, also after a cancel took it
        self.frames: list[tuple[Topic, FrameMeta, bytes]] = []  # camera frames to publish

    # -- what subclasses provide --------------------------------------------------------
    def _route(self, start: LatLon, goal: LatLon) -> list[LatLon]:
        raise NotImplementedError

    def _work_s(self, action: Action) -> float:
        raise NotImplementedError

    def home(self) -> LatLon:
        raise NotImplementedError

    def unable(self) -> str | None:
        """Why this device cannot take a task now (charging, battery low), or None."""
        raise NotImplementedError

    def task_started(self, t: float, task: GridTask) -> None:
        """A task was accepted (before its first step)."""

    def on_motion(self, t: float, task: GridTask, dt: float, moving: bool) -> None:
        """Position, speed, battery (and a drone's camera) after ``dt`` task seconds."""
        raise NotImplementedError

    def finish(self, t: float, task: GridTask) -> list[SimMessage]:
        """The report at the end of a finished task (``task_done``, or ``task_failed``)."""
        raise NotImplementedError

    def task_ended(self, t: float, task: GridTask, finished: bool) -> list[SimMessage]:
        """Back to the patrol (or home) after a task finished, failed or was cancelled."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------
    def say(self, t: float, reports: list[Report]) -> list[SimMessage]:
        return [self.event(t, r.label, text=r.text, value=r.value, cmd_id=r.cmd_id) for r in reports]

    def command(self, t: float, cmd: Command) -> list[SimMessage]:
        """The device's answer to a command that arrived at ``t``."""
        was_busy = self.executor.busy
        out = self.say(t, self.executor.receive(cmd, self.position(), self.ctx.ts(t), home=self.home(),
                                                unable=None if was_busy else self.unable()))
        if not was_busy and self.executor.task is not None:
            self.current = self.executor.task
            self.task_started(t, self.current)
            out.append(self.status(t, DeviceState.BUSY))
        elif was_busy and not self.executor.busy and self.current is not None:  # cancelled
            out += self.task_ended(t, self.current, finished=False)
        return out

    def step_task(self, t: float, dt: float) -> list[SimMessage]:
        """Move the task on by one tick of ``dt`` fleet seconds (``speed_factor`` times as many)."""
        task = self.executor.task
        assert task is not None
        task_dt = dt * self.ctx.speed_factor
        moving = not task.arrived
        reports, finished = self.executor.advance(task_dt, self.ctx.ts(t))
        self.on_motion(t, task, task_dt, moving)
        out = self.say(t, reports)
        if finished is not None:
            out += self.finish(t, finished)
        if not self.executor.busy:
            out += self.task_ended(t, task, finished=finished is not None)
        return out

    def back_online(self, t: float) -> list[SimMessage]:
        self.current = None
        return [self.status(t, DeviceState.ONLINE)]

    def take_frames(self) -> list[tuple[Topic, FrameMeta, bytes]]:
        out, self.frames = self.frames, []
        return out


class CommandDesk:
    """Commands for the fleet's field devices, from their own connections' ``cmd`` subscriptions."""

    def __init__(self, devices: list[SimDevice]) -> None:
        self.devices = {d.device_id: d for d in devices if isinstance(d, FieldDevice)}
        self.topics = {Topic(d.district.name, d.kind, d.device_id, Channel.CMD).render(): d.device_id
                       for d in self.devices.values()}  # cmd topic -> device id
        self.inbox: list[tuple[str, bytes]] = []
        self.received = 0
        self.unreadable = 0

    def on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """paho callback (inside the publisher's loop): only queue, never publish from here."""
        device_id = self.topics.get(msg.topic)
        if device_id is not None:
            self.inbox.append((device_id, bytes(msg.payload)))

    def drain(self, t: float) -> list[SimMessage]:
        """Hand the queued commands to their devices at fleet time ``t``; their answers."""
        out: list[SimMessage] = []
        inbox, self.inbox = self.inbox, []
        for device_id, payload in inbox:
            try:
                cmd = Command.model_validate_json(payload)
            except ValidationError:
                self.unreadable += 1  # a device ignores what it cannot read; the ack timeout notices
                continue
            self.received += 1
            out += self.devices[device_id].command(t, cmd)
        return out
