"""Who goes: the nearest idle device of the right kind, able to do the action, with battery.

Pure functions over a snapshot of the device registry, so the rules are unit-tested without
a database or broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from devices.payloads import CAPABILITIES, Action
from devices.topics import Kind
from triage.correlate import haversine_m

IDLE_STATES = frozenset({"online"})  # busy, charging, error, offline and unknown are not idle


@dataclass(frozen=True, slots=True)
class Candidate:
    device_id: str
    district: str
    kind: str
    state: str
    battery_pct: float | None
    lat: float | None
    lon: float | None
    has_task: bool = False  # holds a live task already


@dataclass(frozen=True, slots=True)
class Pick:
    device_id: str
    district: str
    kind: Kind
    distance_m: float


distance_m = haversine_m  # one great-circle formula for correlation and dispatch


def can_do(kind: str, action: Action) -> bool:
    try:
        return action in CAPABILITIES[Kind(kind)]
    except ValueError:
        return False


def why_not(c: Candidate, kind: Kind, action: Action, min_battery_pct: float) -> str | None:
    """Why this device cannot take the task now (None: it can)."""
    if c.kind != kind.value:
        return "wrong kind"
    if not can_do(c.kind, action):
        return f"{c.kind} cannot {action.value}"
    if c.has_task:
        return "already on a task"
    if c.state not in IDLE_STATES:
        return f"state {c.state}"
    if c.battery_pct is None or c.battery_pct < min_battery_pct:
        return "battery too low"
    if c.lat is None or c.lon is None:
        return "position unknown"
    return None


def pick_device(candidates: Iterable[Candidate], *, kind: Kind, action: Action, lat: float, lon: float,
                min_battery_pct: float, district: str | None = None,
                exclude: frozenset[str] = frozenset()) -> Pick | None:
    """The nearest able device; same district when one is given (robots drive their own grid)."""
    best: Pick | None = None
    for c in candidates:
        if c.device_id in exclude or (district is not None and c.district != district):
            continue
        if why_not(c, kind, action, min_battery_pct) is not None:
            continue
        assert c.lat is not None and c.lon is not None
        d = distance_m(c.lat, c.lon, lat, lon)
        # Ties go to the smaller id, so the choice is deterministic.
        if best is None or (d, c.device_id) < (best.distance_m, best.device_id):
            best = Pick(c.device_id, c.district, kind, d)
    return best
