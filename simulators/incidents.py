"""Applies a scenario to a built fleet and collects ground truth as the run unfolds.

Sensor breaches become ``Breach`` blends on the chosen sensors, robot events become scripted
events on a robot, visual incidents are only recorded (vision renders them later). Robots'
and drones' own random events are recorded too, so a scorer knows every incident sign.
``visible`` says what a camera would see at a spot while the run goes on: the visual incidents,
and breaches a camera can see too (smoke, flooding, a damaged manhole), at their place and at each
sensor that reads them; an inspecting drone renders and reports it (simulators/drones.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from devices.geography import District, GeographyError, LatLon, Place, distance_m
from devices.payloads import VISION_LABELS
from devices.topics import Kind
from devices.vocabulary import LEAD_AGENCY
from simulators.device import SimContext, SimDevice, SimMessage
from simulators.robots import Robot, ScriptedEvent
from simulators.scenario import (
    LABEL_CATEGORY,
    RobotEvent,
    Scenario,
    ScenarioError,
    SensorBreach,
    VisualIncident,
)
from simulators.sensors import Breach, Sensor
from simulators.truth import TruthRecord

# How long a hazard a device reported stays there, for ground truth's ``end``.
EVENT_DURATION_S: dict[str, float] = {"spill": 300.0, "obstacle": 60.0, "stuck": 120.0}
DEFAULT_HOLD_S: dict[str, float] = {"stuck": 90.0, "obstacle": 10.0}


@dataclass
class _Pending:
    """A truth record under construction; ``seen`` tracks the first message that showed it."""

    record: TruthRecord
    at_s: float
    first_t: float | None = None
    seen: set[str] = field(default_factory=set)

    def on_seen(self, t: float, device_id: str) -> None:
        if self.first_t is None or t < self.first_t:
            self.first_t = t
        self.seen.add(device_id)


class ScenarioRuntime:
    def __init__(self, scenario: Scenario | None, devices: list[SimDevice],
                 districts: list[District], ctx: SimContext) -> None:
        self.ctx = ctx
        self.districts = {d.name: d for d in districts}
        self.devices = {d.device_id: d for d in devices}
        self._pending: list[_Pending] = []
        self._by_id: dict[str, _Pending] = {}
        self._random: list[TruthRecord] = []
        self._visible: list[tuple[str, LatLon, float, float]] = []  # label, where, from, until (s)
        self.visual_spots: dict[str, list[LatLon]] = {}  # district -> where its visual incidents are
        self.default_district = districts[0].name
        if scenario is None:
            return
        if scenario.district is not None:
            self.default_district = self._district(scenario.district, "scenario").name
        for inc_id, inc in zip(scenario.incident_ids(), scenario.incidents, strict=True):
            try:
                if isinstance(inc, SensorBreach):
                    self._plan_breach(inc_id, inc)
                elif isinstance(inc, RobotEvent):
                    self._plan_robot(inc_id, inc)
                else:
                    self._plan_visual(inc_id, inc)
            except (ScenarioError, GeographyError) as err:
                raise ScenarioError(f"incident {inc_id}: {err}") from err

    # -- resolution ---------------------------------------------------------------------
    def _district(self, name: str | None, what: str) -> District:
        name = name or self.default_district
        if name not in self.districts:
            raise ScenarioError(f"{what} district {name!r} is not simulated "
                                f"(fleet districts: {', '.join(self.districts)})")
        return self.districts[name]

    def _where(self, inc: SensorBreach | VisualIncident, district: District
               ) -> tuple[LatLon | None, Place | None]:
        if inc.place is not None:
            p = district.place(inc.place)
            return LatLon(p.lat, p.lon), p
        if inc.location is not None:
            if not district.contains(inc.location.lat, inc.location.lon):
                raise ScenarioError(f"location {inc.location.lat},{inc.location.lon} is outside "
                                    f"{district.name}")
            return LatLon(inc.location.lat, inc.location.lon), None
        return None, None

    def _record(self, inc_id: str, inc: SensorBreach | RobotEvent | VisualIncident,
                district: District, where: LatLon, place: Place | None,
                devices: list[str], start: float, end: float) -> TruthRecord:
        category = inc.expected_category
        return TruthRecord(
            incident_id=inc_id, source="scenario", type=inc.type, label=inc.expected_label,
            category=category, agency=inc.agency or LEAD_AGENCY[category],
            severity=inc.severity, district=district.name, lat=round(where.lat, 6),
            lon=round(where.lon, 6), place=place.name if place else None,
            place_tags=list(place.tags) if place else [], start=self.ctx.ts(start),
            end=self.ctx.ts(end), devices=devices,
            metric=inc.metric if isinstance(inc, SensorBreach) else None,
            value=inc.value if isinstance(inc, SensorBreach) else None,
            text=inc.text if isinstance(inc, RobotEvent) else None,
        )

    def _plan_breach(self, inc_id: str, inc: SensorBreach) -> None:
        district = self._district(inc.district, "incident")
        where, place = self._where(inc, district)
        candidates = [d for d in self.devices.values() if isinstance(d, Sensor)
                      and d.district is district and inc.metric in d.stype.metrics]
        if inc.device is not None:
            primary = self.devices.get(inc.device)
            if not isinstance(primary, Sensor):
                raise ScenarioError(f"no sensor {inc.device!r} in this fleet")
            if inc.metric not in primary.stype.metrics:
                raise ScenarioError(f"sensor {inc.device} does not measure {inc.metric}")
        elif not candidates:
            raise ScenarioError(f"no sensor measuring {inc.metric} in {district.name}: "
                                "simulate more sensors or name a device")
        else:
            ref = where or district.center
            primary = min(candidates, key=lambda s: distance_m(
                ref.lat, ref.lon, s.location.lat, s.location.lon))
        missing = sorted(set(inc.also) - set(primary.stype.metrics))
        if missing:
            raise ScenarioError(f"sensor {primary.device_id} does not measure {', '.join(missing)}")
        where = where or primary.location
        shown: list[tuple[Sensor, float]] = [(primary, 1.0)]
        if inc.radius_m > 0:
            for s in candidates:
                d = distance_m(where.lat, where.lon, s.location.lat, s.location.lon)
                if s is not primary and d <= inc.radius_m:
                    shown.append((s, max(0.2, 1.0 - d / inc.radius_m)))
        end = inc.at_s + inc.duration_s
        pending = self._add(inc_id, self._record(
            inc_id, inc, district, where, place, [s.device_id for s, _ in shown],
            inc.at_s, end), inc.at_s)
        if inc.expected_label in VISION_LABELS:
            for spot in dict.fromkeys([where, *(s.location for s, _ in shown)]):  # each spot once
                self._visible.append((inc.expected_label, spot, inc.at_s, end))
        for sensor, weight in shown:
            for metric, value in {inc.metric: inc.value, **inc.also}.items():
                if metric in sensor.stype.metrics:
                    sensor.breaches.append(Breach(metric, value, inc.at_s, end, inc.ramp_s,
                                                  weight, pending.on_seen))

    def _plan_robot(self, inc_id: str, inc: RobotEvent) -> None:
        district = self._district(inc.district, "incident")
        if inc.robot is not None:
            robot = self.devices.get(inc.robot)
            if not isinstance(robot, Robot):
                raise ScenarioError(f"no robot {inc.robot!r} in this fleet")
        else:
            robots = sorted((d for d in self.devices.values() if isinstance(d, Robot)
                             and d.district is district), key=lambda r: r.device_id)
            if not robots:
                raise ScenarioError(f"no robot in {district.name}: simulate robots or name one")
            robot = robots[0]
        hold = inc.hold_s if inc.hold_s is not None else DEFAULT_HOLD_S.get(inc.label, 0.0)
        robot.scripted.append(ScriptedEvent(inc.at_s, inc.label, inc_id, inc.text,
                                            inc.confidence, hold))
        robot.scripted.sort(key=lambda s: s.at)
        # Position and start are only known when the robot reports it (see on_event).
        rec = self._record(inc_id, inc, robot.district, robot.district.center, None,
                           [robot.device_id], inc.at_s, inc.at_s + inc.duration_s)
        self._by_id[inc_id] = _Pending(rec, inc.at_s)

    def _plan_visual(self, inc_id: str, inc: VisualIncident) -> None:
        district = self._district(inc.district, "incident")
        where, place = self._where(inc, district)
        assert where is not None  # the model requires a location or a place
        self._visible.append((inc.label, where, inc.at_s, inc.at_s + inc.duration_s))
        self.visual_spots.setdefault(district.name, []).append(where)
        self._add(inc_id, self._record(inc_id, inc, district, where, place, [], inc.at_s,
                                       inc.at_s + inc.duration_s), inc.at_s)

    def _add(self, inc_id: str, record: TruthRecord, at_s: float) -> _Pending:
        pending = _Pending(record, at_s)
        self._pending.append(pending)
        return pending

    # -- during the run -----------------------------------------------------------------
    def visible(self, t: float, here: LatLon, radius_m: float) -> list[tuple[str, float, float]]:
        """(label, lat, lon) of what is there to see within ``radius_m`` of ``here`` at ``t``."""
        return [(label, p.lat, p.lon) for label, p, t0, t1 in self._visible
                if t0 <= t < t1 and distance_m(here.lat, here.lon, p.lat, p.lon) <= radius_m]

    def on_event(self, msg: SimMessage, incident_id: str | None) -> None:
        """A device reported an event (``EventSink``): scripted or its own."""
        ev = msg.message
        pos = getattr(ev, "position", None)
        label = getattr(ev, "label", "")
        lat, lon = (pos.lat, pos.lon) if pos is not None else (0.0, 0.0)
        if incident_id is not None and incident_id in self._by_id:
            pending = self._by_id.pop(incident_id)
            length = pending.record.end - pending.record.start
            pending.record = pending.record.model_copy(update={
                "lat": lat, "lon": lon, "start": ev.ts, "end": ev.ts + length,
                "msg_ids": [ev.msg_id], "text": getattr(ev, "text", None)})
            pending.at_s, pending.first_t = msg.t, msg.t
            self._pending.append(pending)
            return
        category = LABEL_CATEGORY[label]
        self._random.append(TruthRecord(
            incident_id=f"rnd-{ev.msg_id}", source="random",
            type="robot_event" if msg.kind is Kind.ROBOT else "device_event", label=label,
            category=category, agency=LEAD_AGENCY[category],
            district=msg.topic.district, lat=lat, lon=lon, start=ev.ts,
            end=ev.ts + timedelta(seconds=EVENT_DURATION_S.get(label, 0.0)),
            first_msg_ts=ev.ts, devices=[msg.device_id], msg_ids=[ev.msg_id],
            text=getattr(ev, "text", None),
        ))

    def truth(self, t_end: float) -> list[TruthRecord]:
        """Everything that began before ``t_end``, with ends clipped to the run's end."""
        stop: datetime = self.ctx.ts(t_end)
        out = [r.model_copy(update={"end": min(r.end, stop)}) for r in self._random]
        for p in self._pending:
            if p.at_s >= t_end:
                continue
            update: dict[str, object] = {"end": min(p.record.end, stop)}
            if p.first_t is not None:
                update["first_msg_ts"] = self.ctx.ts(p.first_t)
            out.append(p.record.model_copy(update=update))
        return sorted(out, key=lambda r: (r.start, r.incident_id))
