"""Scenario parsing (clear errors), injection into the fleet, and ground truth."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from devices.payloads import Event, Telemetry
from simulators.scenario import BUILTIN_DIR, ScenarioError, load_scenario, parse_scenario
from simulators.sim import FleetSim
from simulators.truth import read_truth, write_truth

from .fleet_util import START, small


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_builtin_scenarios_parse_and_apply(path: Path) -> None:
    sc = load_scenario(path)
    assert sc.name == path.stem
    assert load_scenario(path.stem) == sc  # a bare name finds the built-in file
    sim = FleetSim(small(sensors=60, duration_s=60.0, scenario=path), START)
    for _ in sim.messages():
        pass
    ids = {r.incident_id for r in sim.truth() if r.source == "scenario"}
    assert ids == set(sc.incident_ids())


@pytest.mark.parametrize(("text", "match"), [
    ("name: x\nincidents: [{type: sensor_breach, at_s: 1, metric: pm99, value: 1}]",
     r"incidents\.0\.sensor_breach\.metric: .*unknown sensor metric 'pm99'"),
    ("name: x\nincidents: [{type: meteor, at_s: 1}]", r"incidents\.0: .*'meteor'"),
    ("name: x\nincidents: [{type: visual, at_s: 1, label: ufo, place: P}]",
     r"incidents\.0\.visual\.label"),
    ("name: x\nincidents: [{type: visual, at_s: 1, label: fire}]", "needs a location or a place"),
    ("name: x\nincidents: [{type: visual, at_s: 1, label: fire, place: A,"
     " location: {lat: 1, lon: 2}}]", "either location or place"),
    ("name: x\nincidents: [{type: sensor_breach, at_s: -1, metric: pm25, value: 100}]",
     r"at_s: Input should be greater than or equal to 0"),
    ("name: x\nincidents: [{type: sensor_breach, at_s: 1, metric: pm25, value: 9999}]",
     "outside the plausible range"),
    ("name: x\nincidents: [{type: sensor_breach, at_s: 1, metric: humidity_pct, value: 99}]",
     "no default category"),
    ("name: x\nincidents: [{type: robot_event, at_s: 1, label: spill, colour: red}]",
     r"colour: Extra inputs are not permitted"),
    ("name: x\nincidents: [{id: a, type: robot_event, at_s: 1, label: spill},"
     " {id: a, type: robot_event, at_s: 2, label: stuck}]", "duplicate incident ids: a"),
    ("name: x\nincidents: [\n  {", "not valid YAML"),
    ("- just a list", "expected a mapping"),
])
def test_parse_errors_say_where_and_why(text: str, match: str) -> None:
    with pytest.raises(ScenarioError, match=match):
        parse_scenario(text, "bad.yaml")


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("incident", "match"), [
    ("{type: sensor_breach, at_s: 1, metric: pm25, value: 200, device: smoke-0001}",
     "incident inc-001: sensor smoke-0001 does not measure pm25"),
    ("{type: sensor_breach, at_s: 1, metric: pm25, value: 200, device: aq-9999}",
     "no sensor 'aq-9999'"),
    ("{type: sensor_breach, at_s: 1, metric: pm25, value: 200, also: {noise_db: 90}}",
     "does not measure noise_db"),
    ("{type: sensor_breach, at_s: 1, metric: pm25, value: 200, district: luohu}",
     "district 'luohu' is not simulated"),
    ("{type: visual, at_s: 1, label: fire, place: Atlantis}", "no place 'Atlantis' in futian"),
    ("{type: visual, at_s: 1, label: fire, location: {lat: 22.53, lon: 113.93}}",
     "outside futian"),
    ("{type: robot_event, at_s: 1, label: spill, robot: robot-09}", "no robot 'robot-09'"),
])
def test_scenario_that_does_not_fit_the_fleet(incident: str, match: str) -> None:
    sc = parse_scenario(f"name: x\nincidents: [{incident}]")
    with pytest.raises(ScenarioError, match=match):
        FleetSim(small(), START, scenario=sc)


def test_breach_shows_on_the_chosen_sensors_only_in_its_window(tmp_path: Path) -> None:
    sc = parse_scenario("""
name: t
incidents:
  - {id: fire, type: sensor_breach, at_s: 4, duration_s: 4, metric: smoke_obscuration_pct,
     value: 15, also: {temperature_c: 70}, place: Lianhuashan Park, radius_m: 3000}
  - {id: spill, type: robot_event, at_s: 5, label: spill, robot: robot-02, text: oil}
  - {id: junk, type: visual, at_s: 6, duration_s: 100, label: garbage, place: Huaqiangbei}
  - {id: late, type: visual, at_s: 60, label: fire, place: Huaqiangbei}
""")
    sim = FleetSim(small(sensors=80, rate=2.0, duration_s=10.0), START, scenario=sc)
    msgs = [*sim.messages(), *sim.shutdown()]
    truth = {r.incident_id: r for r in sim.truth()}
    assert "late" not in truth  # never happened within the run
    fire = truth["fire"]
    assert fire.category == "fire" and fire.agency == "fire_rescue" and fire.label == "smoke"
    assert len(fire.devices) >= 2 and all(d.startswith("smoke-") for d in fire.devices)
    assert (fire.start, fire.end) == (START + timedelta(seconds=4), START + timedelta(seconds=8))
    assert fire.start <= fire.first_msg_ts < fire.start + timedelta(seconds=0.5)  # type: ignore[operator]
    primary = fire.devices[0]
    for m in msgs:
        if m.device_id in fire.devices and isinstance(m.message, Telemetry):
            smoke = m.message.metrics["smoke_obscuration_pct"]
            inside = 4 <= m.t < 8
            assert (smoke > 1.0) == inside, (m.device_id, m.t, smoke)
            if inside and m.device_id == primary:
                assert smoke == pytest.approx(15, rel=0.1)
                assert m.message.metrics["temperature_c"] > 60
    spill = truth["spill"]
    (ev_dev, ev) = next((m.device_id, m.message) for m in msgs
                        if isinstance(m.message, Event) and m.message.label == "spill")
    assert ev_dev == "robot-02" and ev.text == "oil"
    assert spill.msg_ids == [ev.msg_id] and spill.start == ev.ts
    assert ev.position is not None
    assert (spill.lat, spill.lon) == (ev.position.lat, ev.position.lon)
    assert spill.category == "sanitation" and spill.agency == "urban_management"
    junk = truth["junk"]
    assert junk.place == "Huaqiangbei" and junk.place_tags == ["market", "metro"]
    assert junk.end == START + timedelta(seconds=10)  # clipped to the end of the run
    path = tmp_path / "truth.jsonl"
    assert write_truth(path, sim.truth()) == len(truth)
    assert read_truth(path) == sim.truth()
