"""How a simulated field device obeys ``.../cmd`` (SPEC §2): the pure part every device shares.

``TaskExecutor`` decides what a device answers to a ``Command`` and moves its one task along a
route: a resend of a command already seen is acknowledged again and nothing more (QoS 1 and the
platform's own resends must not start a task twice); ``cancel`` drops the task; an action outside
the device's capabilities, a command whose deadline has passed, a second command while a task
runs, or a device that cannot take work now (charging, battery low) is refused with
``task_failed``; otherwise ``cmd_ack`` and the task starts. ``advance`` reports ``task_progress``
at each quarter of the way, fails the task once its deadline passes, and returns the task the
moment it is finished so the device can say how it went (cleaned, what it saw).

No MQTT and no clock here: ``CommandedRobot``/``CommandedDrone`` (simulators/commands.py) and the
fleet's robots and drones (simulators/robots.py, drones.py) wrap it, so the rules are tested once
without a broker (tests/simulators/test_tasks.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from devices.geography import LatLon, StreetGrid, distance_m
from devices.payloads import Action, Command

DRIVE_SPEED_M_S = 1.5  # a cleaning robot on its way to a job (as to its depot, robots.py)
DRAIN_PCT_PER_S = 0.0025  # same as a robot driving to its depot (robots.py)
CLEAN_DRAIN_PCT_PER_S = 0.011  # same as sweeping
CLEAN_S = 60.0  # time on the spot for a ``clean``
FLY_SPEED_M_S = 10.0  # an inspection drone's cruise
FLY_DRAIN_PCT_PER_S = 0.03  # ~55 min of cruise on a full battery
HOVER_DRAIN_PCT_PER_S = 0.035
HOVER_S = 20.0  # time over the spot for an ``inspect`` or ``hover``

Route = Callable[[LatLon, LatLon], list[LatLon]]


def grid_route(grid: StreetGrid, start: LatLon, goal: LatLon) -> list[LatLon]:
    """Waypoints from ``start`` to ``goal``: onto the nearest node, along the streets, then off."""
    node, last = grid.nearest_node(start.lat, start.lon), grid.nearest_node(goal.lat, goal.lon)
    points = [start, grid.position(node)]
    while node != last:
        node = grid.step_towards(node, last)
        points.append(grid.position(node))
    points.append(goal)
    return points


def straight_route(start: LatLon, goal: LatLon) -> list[LatLon]:
    return [start, goal]  # a drone flies above the streets


@dataclass
class GridTask:
    cmd_id: str
    action: Action
    route: list[LatLon]
    work_s: float  # time on the spot (cleaning, hovering) after arrival
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


@dataclass(frozen=True, slots=True)
class Report:
    """One answer of the device about a command: an event with ``cmd_id`` (``devices.payloads.TASK_EVENT_LABELS``)."""

    label: str  # cmd_ack | task_progress | task_done | task_failed
    cmd_id: str
    text: str | None = None
    value: float | None = None


@dataclass
class TaskExecutor:
    actions: frozenset[Action]  # what this device does (a subset of its kind's CAPABILITIES)
    speed_m_s: float
    route: Route
    work_s: Callable[[Action], float]
    task: GridTask | None = None
    deadline: datetime | None = None
    seen: set[str] = field(default_factory=set)  # command ids already answered

    @property
    def busy(self) -> bool:
        return self.task is not None

    def receive(self, cmd: Command, here: LatLon, now: datetime, *, home: LatLon | None = None,
                unable: str | None = None) -> list[Report]:
        """The answer to ``cmd`` at ``here`` and device time ``now``; ``home`` is where
        ``return_home`` goes, ``unable`` why the device cannot take a task now (None: it can)."""
        cid = cmd.msg_id
        if cid in self.seen:  # a resend: the first answer may have been lost, so ack again only
            return [Report("cmd_ack", cid)]
        self.seen.add(cid)
        if cmd.action is Action.CANCEL:
            self.task, self.deadline = None, None
            return [Report("cmd_ack", cid)]
        if cmd.action not in self.actions:
            return [Report("task_failed", cid, text=f"cannot {cmd.action.value}: not a capability of this device")]
        if cmd.deadline is not None and cmd.deadline <= now:
            return [Report("task_failed", cid, text=f"deadline {cmd.deadline.isoformat()} already passed")]
        if self.task is not None:
            return [Report("task_failed", cid, text=f"busy with {self.task.cmd_id}")]
        if unable is not None:
            return [Report("task_failed", cid, text=unable)]
        goal = home if cmd.action is Action.RETURN_HOME else (
            LatLon(cmd.position.lat, cmd.position.lon) if cmd.position is not None else None)
        if goal is None:
            return [Report("task_failed", cid, text=f"{cmd.action.value} needs a position")]
        self.task = GridTask(cid, cmd.action, self.route(here, goal), self.work_s(cmd.action))
        self.deadline = cmd.deadline
        return [Report("cmd_ack", cid)]

    def advance(self, dt: float, now: datetime) -> tuple[list[Report], GridTask | None]:
        """Move the task on by ``dt`` seconds: its new progress reports (or its failure at the
        deadline), and the task itself once it is finished (the device then reports the result)."""
        task = self.task
        if task is None:
            return [], None
        if self.deadline is not None and now >= self.deadline:
            self.task, self.deadline = None, None
            return [Report("task_failed", task.cmd_id, text="deadline passed before the task was done")], None
        reports = [Report("task_progress", task.cmd_id, value=float(pct), text=f"{pct}% of the way")
                   for pct in task.advance(dt, self.speed_m_s)]
        if task.finished:
            self.task, self.deadline = None, None
            return reports, task
        return reports, None
