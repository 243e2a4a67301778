"""Stand-alone devices that obey ``.../cmd``: a live cleaning robot and an inspection drone
(``CommandedDrone``: flies straight at ~10 m/s, hovers, reports what it saw), each on its own
connection, placed where a test wants them.

What they answer to a command and how a task moves is ``simulators.tasks.TaskExecutor``, the
same code the fleet's robots and drones run (``urbanops simulate``, ``make demo``).
``CommandedRobot`` is a robot with its own MQTT v5 connection: it subscribes to its ``cmd``
topic, acknowledges each command (``cmd_ack`` with ``cmd_id``), drives there at ~1.5 m/s
(``speed_factor`` compresses time for tests and demos), reports ``task_progress`` at each
quarter, cleans, and reports ``task_done`` (or ``task_failed`` when the problem is still there),
publishing telemetry with its position and a draining battery all along.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from citypack.cached import district as pack_district
from devices.geography import LatLon, StreetGrid
from devices.payloads import Action, Command, DeviceState, Event, Model, Position, Status, Telemetry
from devices.topics import Channel, Kind, Topic
from simulators.publisher import broker_address
from simulators.tasks import (  # GridTask and grid_route re-exported: tests import them here
    CLEAN_DRAIN_PCT_PER_S,
    DRAIN_PCT_PER_S,
    DRIVE_SPEED_M_S,
    FLY_DRAIN_PCT_PER_S,
    FLY_SPEED_M_S,
    HOVER_DRAIN_PCT_PER_S,
    GridTask,
    Report,
    TaskExecutor,
    grid_route,
    straight_route,
)

__all__ = ["CommandedDrone", "CommandedRobot", "GridTask", "grid_route"]


class CommandedRobot:
    """A cleaning robot that takes commands. ``outcome='still_there'`` makes it report failure."""

    KIND = Kind.ROBOT
    ACTIONS: frozenset[Action] = frozenset({Action.GOTO, Action.CLEAN})
    SPEED_M_S = DRIVE_SPEED_M_S

    def __init__(self, device_id: str, district: str, mqtt_url: str, start: LatLon, *, battery_pct: float = 90.0,
                 speed_factor: float = 1.0, period_s: float = 0.2, clean_s: float = 60.0,
                 outcome: str = "clean", grid: StreetGrid | None = None) -> None:
        """``grid``: the district's streets (default: the demo city pack's)."""
        self.device_id, self.district = device_id, district
        self.grid = grid or pack_district(district).grid
        self.pos, self.battery = start, battery_pct
        self.speed_factor, self.period_s, self.clean_s, self.outcome = speed_factor, period_s, clean_s, outcome
        self.executor = TaskExecutor(self.ACTIONS, self.SPEED_M_S, self._route, self._work_s)
        self.log: list[tuple[float, str, str]] = []  # (monotonic, label, cmd_id): what it did, for tests
        self._seq = itertools.count(1)
        self._run = uuid.uuid4().hex[:6]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._topics: dict[Channel, str] = {
            ch: Topic(district, self.KIND, device_id, ch).render()
            for ch in (Channel.TELEMETRY, Channel.STATUS, Channel.EVENT, Channel.CMD)}
        host, port, user, password, _tls = broker_address(mqtt_url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"cmd{self.KIND.value}-{device_id}-{self._run}", protocol=mqtt.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, password)
        will = Status(ts=datetime.now(UTC), msg_id=self._msg_id(), state=DeviceState.OFFLINE)
        self.client.will_set(self._topics[Channel.STATUS], will.to_json(), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._addr = (host, port)

    @property
    def task(self) -> GridTask | None:
        return self.executor.task

    @property
    def seen_cmds(self) -> set[str]:
        return self.executor.seen

    def _msg_id(self) -> str:
        return f"{self.device_id}-{self._run}-{next(self._seq)}"

    def _send(self, channel: Channel, msg: Model, retain: bool = False) -> None:
        self.client.publish(self._topics[channel], msg.to_json(), qos=1, retain=retain)

    def _status(self, state: DeviceState) -> None:
        self._send(Channel.STATUS, Status(ts=datetime.now(UTC), msg_id=self._msg_id(), state=state,
                                          battery_pct=round(self.battery, 1),
                                          position=Position(lat=self.pos.lat, lon=self.pos.lon)), retain=True)

    def _event(self, label: str, cmd_id: str, *, text: str | None = None, value: float | None = None) -> None:
        self.log.append((time.monotonic(), label, cmd_id))
        self._send(Channel.EVENT, Event(ts=datetime.now(UTC), msg_id=self._msg_id(), label=label, cmd_id=cmd_id,
                                        text=text, value=value, position=Position(lat=self.pos.lat, lon=self.pos.lon)))

    def _telemetry(self, speed: float) -> None:
        self._send(Channel.TELEMETRY, Telemetry(
            ts=datetime.now(UTC), msg_id=self._msg_id(), position=Position(lat=self.pos.lat, lon=self.pos.lon),
            metrics={"battery_pct": round(self.battery, 2), "speed_m_s": round(speed, 2), **self._extra_metrics()}))

    def _extra_metrics(self) -> dict[str, float]:
        return {}

    def _route(self, start: LatLon, goal: LatLon) -> list[LatLon]:
        return grid_route(self.grid, start, goal)

    def _work_s(self, action: Action) -> float:
        return self.clean_s if action is Action.CLEAN else 0.0

    def _drain(self, moving: bool) -> float:
        return DRAIN_PCT_PER_S if moving else CLEAN_DRAIN_PCT_PER_S

    def _finish(self, task: GridTask) -> None:
        """The report at the end of a task (called with the lock held)."""
        if self.outcome == "clean" or task.action is Action.GOTO:
            self._event("task_done", task.cmd_id, value=100.0, text="spot cleaned; nothing left on the ground")
        else:
            self._event("task_failed", task.cmd_id, text="spill still there: too large for a robot")

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                    props: object = None) -> None:
        client.subscribe(self._topics[Channel.CMD], qos=1)
        self._status(DeviceState.BUSY if self.task else DeviceState.ONLINE)
        self._telemetry(0.0)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            cmd = Command.model_validate_json(msg.payload)
        except ValidationError:
            return  # a device ignores what it cannot read; the platform's ack timeout notices
        with self._lock:
            was_busy = self.executor.busy
            self._say(self.executor.receive(cmd, self.pos, datetime.now(UTC)))
            if was_busy != self.executor.busy:
                self._status(DeviceState.BUSY if self.executor.busy else DeviceState.ONLINE)

    def _say(self, reports: list[Report]) -> None:
        for r in reports:
            self._event(r.label, r.cmd_id, text=r.text, value=r.value)

    def step(self, dt: float) -> None:
        """Advance ``dt`` simulated seconds."""
        with self._lock:
            task = self.executor.task
            if task is None:
                self._telemetry(0.0)
                return
            moving = not task.arrived
            reports, finished = self.executor.advance(dt, datetime.now(UTC))
            self._say(reports)
            self.pos = task.position()
            self.battery = max(0.0, self.battery - self._drain(moving) * dt)
            self._telemetry(self.SPEED_M_S if moving else 0.0)
            if finished is not None:
                self._finish(finished)
            if not self.executor.busy:
                self._status(DeviceState.ONLINE)

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.step(self.period_s * self.speed_factor)

    def start(self) -> CommandedRobot:
        self.client.connect(*self._addr)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._loop, name=f"{self.KIND.value}-{self.device_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, offline: bool = True) -> None:
        """Stop; ``offline`` publishes the offline status first (what the will would say)."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        if offline:
            self._status(DeviceState.OFFLINE)
        time.sleep(0.2)
        self.client.disconnect()
        self.client.loop_stop()


class CommandedDrone(CommandedRobot):
    """An inspection drone that takes ``goto``/``inspect``/``hover`` commands: it flies straight to
    the spot at ~10 m/s (``speed_factor`` compresses time), reports ``task_progress`` at each
    quarter, hovers ``hover_s`` looking with its onboard detector, and answers an ``inspect`` with
    ``task_done`` whose ``value`` is its confidence (0..1) that ``hazard`` is there — the
    verification convention in ``docs/dispatch.md``. ``sees`` is what the detector will find
    (0.0: nothing). When it sees the hazard (``sees >= confirm_at``) it first publishes the
    detection itself (``hazard`` event with confidence and position), so the normal observation
    path adds a second, independent source to the incident."""

    KIND = Kind.DRONE
    ACTIONS = frozenset({Action.GOTO, Action.INSPECT, Action.HOVER})
    SPEED_M_S = FLY_SPEED_M_S

    def __init__(self, device_id: str, district: str, mqtt_url: str, start: LatLon, *, battery_pct: float = 90.0,
                 speed_factor: float = 1.0, period_s: float = 0.2, hover_s: float = 20.0, sees: float = 0.9,
                 hazard: str = "smoke", confirm_at: float = 0.5, altitude_m: float = 60.0) -> None:
        super().__init__(device_id, district, mqtt_url, start, battery_pct=battery_pct, speed_factor=speed_factor,
                         period_s=period_s, clean_s=hover_s)
        self.hover_s, self.sees, self.hazard, self.confirm_at = hover_s, sees, hazard, confirm_at
        self.altitude_m = altitude_m

    def _extra_metrics(self) -> dict[str, float]:
        return {"altitude_m": self.altitude_m if self.task is not None else 0.0}

    def _route(self, start: LatLon, goal: LatLon) -> list[LatLon]:
        return straight_route(start, goal)

    def _work_s(self, action: Action) -> float:
        return 0.0 if action is Action.GOTO else self.hover_s

    def _drain(self, moving: bool) -> float:
        return FLY_DRAIN_PCT_PER_S if moving else HOVER_DRAIN_PCT_PER_S

    def _finish(self, task: GridTask) -> None:
        if task.action is not Action.INSPECT:
            self._event("task_done", task.cmd_id, value=100.0, text=f"{task.action.value} done")
            return
        here = Position(lat=self.pos.lat, lon=self.pos.lon, alt_m=self.altitude_m)
        if self.sees >= self.confirm_at:
            self.log.append((time.monotonic(), self.hazard, task.cmd_id))
            self._send(Channel.EVENT, Event(ts=datetime.now(UTC), msg_id=self._msg_id(), label=self.hazard,
                                            confidence=round(self.sees, 3), position=here,
                                            text=f"onboard detection while verifying {task.cmd_id}"))
            text = f"confirmed: {self.hazard} {self.sees:.2f} after {self.hover_s:.0f} s hover"
        else:
            text = f"not seen: no {self.hazard} above {self.confirm_at:.2f} after {self.hover_s:.0f} s hover"
        self._event("task_done", task.cmd_id, value=round(self.sees, 3), text=text)
