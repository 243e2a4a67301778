"""Devices that obey ``.../cmd``: a task's route along the street grid, a live cleaning robot, and
an inspection drone (``CommandedDrone``: flies straight at ~10 m/s, hovers, reports what it saw).

``GridTask`` is the pure part (route, progress, arrival), so motion is tested without a broker.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from devices.payloads import Action, Command, DeviceState, Event, Model, Position, Status, Telemetry
from devices.topics import Channel, Kind, Topic
from simulators.geography import LatLon, StreetGrid, distance_m, get_district
from simulators.publisher import broker_address

DRIVE_SPEED_M_S = 1.5
DRAIN_PCT_PER_S = 0.0025  # same as a robot driving to its depot (robots.py)
CLEAN_DRAIN_PCT_PER_S = 0.011  # same as sweeping
FLY_SPEED_M_S = 10.0  # an inspection drone's cruise
FLY_DRAIN_PCT_PER_S = 0.03  # ~55 min of cruise on a full battery
HOVER_DRAIN_PCT_PER_S = 0.035


def grid_route(grid: StreetGrid, start: LatLon, goal: LatLon) -> list[LatLon]:
    """Waypoints from ``start`` to ``goal``: onto the nearest node, along the streets, then off."""
    node, last = grid.nearest_node(start.lat, start.lon), grid.nearest_node(goal.lat, goal.lon)
    points = [start, grid.position(node)]
    while node != last:
        node = grid.step_towards(node, last)
        points.append(grid.position(node))
    points.append(goal)
    return points


@dataclass
class GridTask:
    cmd_id: str
    action: Action
    route: list[LatLon]
    work_s: float  # time on the spot (cleaning) after arrival
    travelled_m: float = 0.0
    worked_s: float = 0.0
    reported: set[int] = field(default_factory=set)  # progress quarters already reported

    @property
    def length_m(self) -> float:
        return sum(distance_m(a.lat, a.lon, b.lat, b.lon) for a, b in itertools.pairwise(self.route))

    def position(self) -> LatLon:
        left = self.travelled_m
        for a, b in itertools.pairwise(self.route):
            seg = distance_m(a.lat, a.lon, b.lat, b.lon)
            if left <= seg and seg > 0:
                f = left / seg
                return LatLon(a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f)
            left -= seg
        return self.route[-1]

    @property
    def arrived(self) -> bool:
        return self.travelled_m >= self.length_m

    @property
    def finished(self) -> bool:
        return self.arrived and self.worked_s >= self.work_s

    def advance(self, dt: float, speed_m_s: float) -> list[int]:
        """Move (or work) for ``dt`` seconds; the progress percentages newly reached."""
        if not self.arrived:
            self.travelled_m = min(self.length_m, self.travelled_m + speed_m_s * dt)
        else:
            self.worked_s += dt
        total = max(self.length_m, 1.0)
        pct = min(100.0, 100.0 * self.travelled_m / total)
        new = [q for q in (25, 50, 75) if pct >= q and q not in self.reported]
        self.reported.update(new)
        return new


class CommandedRobot:
    """A cleaning robot that takes commands. ``outcome='still_there'`` makes it report failure."""

    KIND = Kind.ROBOT
    ACTIONS: frozenset[Action] = frozenset({Action.GOTO, Action.CLEAN})
    SPEED_M_S = DRIVE_SPEED_M_S

    def __init__(self, device_id: str, district: str, mqtt_url: str, start: LatLon, *, battery_pct: float = 90.0,
                 speed_factor: float = 1.0, period_s: float = 0.2, clean_s: float = 60.0,
                 outcome: str = "clean") -> None:
        self.device_id, self.district = device_id, district
        self.grid = get_district(district).grid
        self.pos, self.battery = start, battery_pct
        self.speed_factor, self.period_s, self.clean_s, self.outcome = speed_factor, period_s, clean_s, outcome
        self.task: GridTask | None = None
        self.log: list[tuple[float, str, str]] = []  # (monotonic, label, cmd_id): what it did, for tests
        self.seen_cmds: set[str] = set()
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

    def _route(self, goal: LatLon) -> list[LatLon]:
        return grid_route(self.grid, self.pos, goal)

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
            if cmd.msg_id in self.seen_cmds:  # a resend (QoS 1 or the platform's retry): ack again only
                self._event("cmd_ack", cmd.msg_id)
                return
            self.seen_cmds.add(cmd.msg_id)
            if cmd.action is Action.CANCEL:
                self.task = None
                self._status(DeviceState.ONLINE)
                return
            if cmd.position is None or cmd.action not in self.ACTIONS:
                self._event("task_failed", cmd.msg_id, text=f"cannot {cmd.action.value} here")
                return
            if self.task is not None:
                self._event("task_failed", cmd.msg_id, text=f"busy with {self.task.cmd_id}")
                return
            self._event("cmd_ack", cmd.msg_id)
            goal = LatLon(cmd.position.lat, cmd.position.lon)
            self.task = GridTask(cmd.msg_id, cmd.action, self._route(goal), self._work_s(cmd.action))
            self._status(DeviceState.BUSY)

    def step(self, dt: float) -> None:
        """Advance ``dt`` simulated seconds."""
        with self._lock:
            task = self.task
            if task is None:
                self._telemetry(0.0)
                return
            moving = not task.arrived
            for pct in task.advance(dt, self.SPEED_M_S):
                self._event("task_progress", task.cmd_id, value=float(pct), text=f"{pct}% of the way")
            self.pos = task.position()
            self.battery = max(0.0, self.battery - self._drain(moving) * dt)
            self._telemetry(self.SPEED_M_S if moving else 0.0)
            if task.finished:
                self.task = None
                self._finish(task)
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

    def _route(self, goal: LatLon) -> list[LatLon]:
        return [self.pos, goal]  # straight, above the streets

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
