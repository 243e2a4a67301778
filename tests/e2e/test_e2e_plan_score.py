"""The ``bench e2e`` scenario and scoring without services: the plan keeps incidents apart and
shows each visual one first on its planned frame; the scorer counts what it says it counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations

from devices.geography import distance_m
from gateway.bench.e2e_plan import HOLD_S, build_plan, drone_position, in_footprint
from gateway.bench.e2e_score import linker, score
from gateway.bench.e2e_watch import SeenTicket

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_plan_has_every_source_after_a_quiet_control() -> None:
    plan = build_plan(60.0)
    sources = [i.source for i in plan.incidents]
    assert {s: sources.count(s) for s in set(sources)} == {"sensor": 3, "robot": 3, "citizen": 3, "vision": 3}
    assert min(i.at_s for i in plan.incidents) >= plan.quiet_s == 15
    assert max(i.at_s for i in plan.incidents) + HOLD_S <= plan.duration_s
    # Farther apart than any correlation radius (500 m), so each is its own incident.
    for a, b in combinations(plan.incidents, 2):
        if a.district == b.district:
            assert distance_m(a.spot.lat, a.spot.lon, b.spot.lat, b.spot.lon) > 200, (a, b)
            if "vision" not in (a.source, b.source):
                assert distance_m(a.spot.lat, a.spot.lon, b.spot.lat, b.spot.lon) > 1000, (a, b)
    assert not any(i.source == "vision" for i in build_plan(60.0, vision=False).incidents)


def test_each_object_is_first_in_view_at_its_planned_tick() -> None:
    plan = build_plan(60.0)
    drones = {d.device_id: d for d in plan.of_kind("drone")}
    for inc in (i for i in plan.incidents if i.source == "vision"):
        start = drones[str(inc.device_id)].spot
        ticks = [t for t in range(61) if in_footprint(drone_position(start, t), inc.spot)]
        assert ticks[0] == inc.at_s and len(ticks) >= 2, (inc.incident_id, ticks)
    for d in drones.values():  # the quiet control flies over nothing planted
        for t in range(int(plan.quiet_s)):
            assert not any(in_footprint(drone_position(d.spot, t), i.spot) for i in plan.incidents)


def _obs(source: str, **kw: object) -> dict[str, object]:
    return {"observation_id": f"o-{kw.get('device_id')}", "source": source, "device_id": None, "label": None,
            "metric": None, "lat": None, "lon": None, "ts": (T0 + timedelta(seconds=30)).isoformat(), **kw}


def test_score_counts_correct_false_duplicate_and_missed() -> None:
    plan = build_plan(60.0, vision=False)
    sensor, robot, citizen = (next(i for i in plan.incidents if i.source == s) for s in ("sensor", "robot", "citizen"))
    link = linker(plan, {citizen.incident_id: "citizen-abc"})
    signs = {i.incident_id: 100.0 + i.at_s for i in plan.incidents}

    def ticket(tid: str, category: str, obs: list[dict[str, object]], at: float) -> SeenTicket:
        t = SeenTicket(tid, f"inc-{tid}", category, observations=obs)
        t.links = dict.fromkeys(link(obs), at)
        return t

    tickets = [
        ticket("t1", sensor.category, [_obs("sensor", device_id=sensor.device_id)], 100.0 + sensor.at_s + 0.5),
        ticket("t2", "noise", [_obs("robot", device_id=robot.device_id, label=robot.label)], 100.0 + robot.at_s + 1.5),
        ticket("t3", robot.category, [_obs("robot", device_id=robot.device_id, label=robot.label)], 200.0),
        ticket("t4", "air_quality", [_obs("sensor", device_id="e2e-sensor-q01", ts=T0.isoformat())], 50.0),
        ticket("t5", citizen.category, [_obs("citizen", observation_id="citizen-abc")], 100.0 + citizen.at_s + 1.0),
    ]
    r = score(plan, tickets, signs, quiet_end=T0 + timedelta(seconds=15))
    assert r["incidents_planted"] == len(plan.incidents)
    assert r["tickets_correct"] == 2  # the sensor's and the citizen's; the robot's is duplicated
    assert (r["false_tickets"], r["quiet_false_tickets"], r["duplicates"]) == (1, 1, 1)
    assert r["missed"] == len(plan.incidents) - 3
    assert r["incidents"][sensor.incident_id]["latency_s"] == 0.5
    assert r["incidents"][robot.incident_id]["latency_s"] == 1.5  # the first of its two tickets
    assert r["by_source"]["sensor"]["false_tickets"] == 1 and r["by_source"]["robot"]["duplicates"] == 1
    assert r["by_source"]["citizen"]["p50_s"] == 1.0
    assert r["targets_met"] == {"device_p95_le_2s": True, "each_ticketed_once": False,
                                "no_false_in_quiet_control": False}
