"""Correlation: one incident per real-world event, deterministic, closes when quiet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.triage.conftest import fixed_clock
from triage.backend import RulesBackend
from triage.correlate import Correlator, haversine_m
from triage.models import Location, Observation, Severity

T0 = datetime(2026, 11, 28, 0, 15, tzinfo=UTC)
LAT, LON = 22.5431, 114.0579
DLAT_30M = 30 / 111_195  # 30 m north


def obs(**kw: object) -> Observation:
    return Observation.model_validate(kw)


def at(lat: float, lon: float) -> dict[str, float]:
    return {"lat": lat, "lon": lon}


def test_haversine_known_distance() -> None:
    assert abs(haversine_m(LAT, LON, LAT + DLAT_30M, LON) - 30) < 0.1
    assert abs(haversine_m(0, 0, 0, 1) - 111_195) < 5


def test_issue_example_becomes_one_incident() -> None:
    c = Correlator()
    loc = Location(lat=LAT, lon=LON, place_tags=["residential"])
    u1 = c.observe(obs(source="vision", device_id="drone-03", label="smoke", confidence=0.87,
                       ts=T0, position=at(LAT, LON)), now=T0, district="futian")
    u2 = c.observe(obs(source="sensor", device_id="gas-12", metric="gas_lel_pct", value=12.0,
                       ts=T0 + timedelta(minutes=1), position=at(LAT + DLAT_30M, LON)),
                   now=T0, district="futian")
    u3 = c.observe(obs(source="citizen", text="3栋楼里一直在冒烟", ts=T0 + timedelta(minutes=2)),
                   now=T0, district="futian", location=loc)
    u4 = c.observe(obs(source="citizen", text="闻到很浓的煤气味", ts=T0 + timedelta(minutes=3)),
                   now=T0, district="futian")
    assert u1.created and not (u2.created or u3.created or u4.created)
    ids = {u.incident.incident_id for u in (u1, u2, u3, u4)}
    assert len(ids) == 1 and len(c.open_incidents()) == 1
    final = u4.incident
    assert len(final.observations) == 4 and final.location is not None
    assert final.location.place_tags == ["residential"]
    ticket = RulesBackend(clock=fixed_clock).assess(final).ticket
    assert ticket.category.value == "fire" and ticket.incident_id == u1.incident.incident_id


def test_later_observation_raises_severity_instead_of_new_incident() -> None:
    c = Correlator()
    rules = RulesBackend(clock=fixed_clock)
    first = c.observe(obs(source="sensor", device_id="gas-1", metric="gas_lel_pct", value=6,
                          ts=T0, position=at(LAT, LON)), now=T0)
    assert rules.assess(first.incident).ticket.severity is Severity.MEDIUM
    later = c.observe(obs(source="sensor", device_id="gas-1", metric="gas_lel_pct", value=22,
                          ts=T0 + timedelta(minutes=5), position=at(LAT, LON)), now=T0)
    assert not later.created and len(later.incident.observations) == 1  # peak replaces reading
    assert rules.assess(later.incident).ticket.severity is Severity.CRITICAL
    calmer = c.observe(obs(source="sensor", device_id="gas-1", metric="gas_lel_pct", value=7,
                           ts=T0 + timedelta(minutes=6), position=at(LAT, LON)), now=T0)
    assert rules.assess(calmer.incident).ticket.severity is Severity.CRITICAL  # never falls back


def test_far_away_other_district_or_incompatible_opens_new_incidents() -> None:
    c = Correlator()
    base = c.observe(obs(source="vision", device_id="d1", label="fire", ts=T0, position=at(LAT, LON)),
                     now=T0, district="futian")
    far = c.observe(obs(source="vision", device_id="d1", label="smoke", ts=T0,
                        position=at(LAT + 0.01, LON)), now=T0, district="futian")
    other = c.observe(obs(source="citizen", text="smoke everywhere", ts=T0), now=T0, district="nanshan")
    noise = c.observe(obs(source="sensor", device_id="bin-1", metric="bin_fill_pct", value=95, ts=T0,
                          position=at(LAT, LON)), now=T0, district="futian")
    assert base.created and far.created and other.created and noise.created
    assert len({u.incident.incident_id for u in (base, far, other, noise)}) == 4


def test_device_faults_stay_apart_from_hazards() -> None:
    c = Correlator()
    fire = c.observe(obs(source="vision", device_id="d1", label="fire", ts=T0, position=at(LAT, LON)), now=T0)
    off = c.observe(obs(source="device", device_id="aq-1", label="offline", ts=T0, position=at(LAT, LON)),
                    now=T0)
    again = c.observe(obs(source="device", device_id="aq-1", label="offline", ts=T0 + timedelta(minutes=1)),
                      now=T0)
    assert off.created and off.incident.incident_id != fire.incident.incident_id
    assert not again.created and again.incident.incident_id == off.incident.incident_id


def test_time_window_and_quiet_close() -> None:
    c = Correlator()
    a = c.observe(obs(source="vision", device_id="d1", label="garbage", ts=T0, position=at(LAT, LON)), now=T0)
    assert c.close_quiet(T0 + timedelta(minutes=29)) == []
    closed = c.close_quiet(T0 + timedelta(minutes=30))
    assert [i.incident_id for i in closed] == [a.incident.incident_id] and c.open_incidents() == []
    late = c.observe(obs(source="vision", device_id="d1", label="garbage", ts=T0 + timedelta(hours=2),
                         position=at(LAT, LON)), now=T0 + timedelta(hours=2))
    assert late.created and late.incident.incident_id != a.incident.incident_id


def test_ids_are_deterministic() -> None:
    def run() -> list[str]:
        c = Correlator()
        return [c.observe(obs(source="vision", device_id="d", label=lbl, ts=T0, position=at(LAT + i, LON)),
                          now=T0).incident.incident_id for i, lbl in enumerate(["fire", "pothole"])]
    assert run() == run() == ["inc-20261128001500-0001", "inc-20261128001500-0002"]


def test_telemetry_through_thresholds_into_one_incident() -> None:
    from triage.thresholds import ThresholdTracker

    tracker, c = ThresholdTracker(), Correlator()
    updates = []
    for minute, value in enumerate([3, 6, 6.5, 5.8, 12, 11, 25]):  # gas sensor readings
        change = tracker.update("gas-7", "gas_lel_pct", value, ts=T0 + timedelta(minutes=minute),
                                position=None)
        if change is not None and change.observation is not None:
            updates.append(c.observe(change.observation, now=T0 + timedelta(minutes=minute),
                                     location=Location(lat=LAT, lon=LON)))
    assert [u.created for u in updates] == [True, False, False]  # 6 (medium), 12 (high), 25
    ticket = RulesBackend(clock=fixed_clock).assess(updates[-1].incident).ticket
    assert ticket.severity is Severity.CRITICAL and len(updates[-1].incident.observations) == 1
