"""``run_fleet`` and ``urbanops simulate`` against a real broker: what arrives is exactly
what the report counts (and what the deterministic stream says), pacing, a clean stop, and
the last wills of a killed fleet process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import typer
from typer.testing import CliRunner

from devices.encoding import JsonEncoder
from devices.payloads import Telemetry
from gateway.cli.simulate import simulate
from gateway.local_services import Mosquitto, free_port
from simulators.fleet import FleetProgress, run_fleet
from simulators.sim import encode_messages, generate_messages
from simulators.truth import read_truth

from .fleet_util import START, Collector, run_tag, small, wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_broker_receives_exactly_what_the_report_counts(broker: Mosquitto) -> None:
    tag = run_tag()
    cfg = small(sensors=45, robots=3, drones=2, rate=2.0, duration_s=26.0, run_id=tag,
                start=START, sensors_per_link=20, scenario="city_mix")
    col = Collector(broker.port, tag)
    report = run_fleet(cfg, broker.url)
    assert report.connections == 50 + 3  # one per device + ceil(45 / 20) bridges
    assert report.unacked == 0 and report.rejected == 0 and report.reconnects == 0
    assert wait_for(lambda: len(col.snapshot()) >= report.total_published, 10)
    got = col.snapshot()
    assert Counter(m.channel for m in got) == Counter(report.published) == Counter(report.sent)
    # Byte for byte the deterministic stream: nothing lost, nothing twice, nothing else.
    expected = encode_messages(generate_messages(cfg), JsonEncoder())
    assert sorted((m.topic, m.payload) for m in got) == sorted((p.topic, p.payload)
                                                               for p in expected)
    telemetry = [Telemetry.model_validate_json(m.payload) for m in got if m.channel == "telemetry"]
    assert report.telemetry_messages == len(telemetry) == 50 * 52
    assert report.telemetry_values == sum(len(t.metrics) for t in telemetry)
    assert report.events == sum(1 for m in got if m.channel == "event") == 2  # city_mix robots
    assert report.statuses == report.published["status"]
    per_dev = Counter(m.topic.split("/")[3] for m in got if m.channel == "telemetry")
    assert {d: c.telemetry for d, c in report.per_device.items()} == dict(per_dev)
    assert report.incidents == 10 and not report.stopped_early  # person-down is at 30 s
    col.close()


def test_paced_run_follows_the_clock(broker: Mosquitto) -> None:
    tag = run_tag()
    col = Collector(broker.port, tag)
    arrivals: list[float] = []
    col.client.on_message = lambda c, u, m: arrivals.append(time.monotonic())  # type: ignore[assignment]
    report = run_fleet(small(sensors=10, robots=1, drones=1, rate=10.0, duration_s=2.0,
                             pace=True, run_id=tag), broker.url)
    assert 1.9 <= report.wall_s < 4.0
    assert report.telemetry_messages == 12 * 20
    assert wait_for(lambda: len(arrivals) >= report.total_published, 5)
    assert arrivals[-1] - arrivals[0] > 1.6  # spread over the run, not one burst
    col.close()


def test_stop_ends_cleanly_with_offline_statuses(broker: Mosquitto, tmp_path: Path) -> None:
    tag = run_tag()
    col = Collector(broker.port, tag)
    stop = threading.Event()

    def progress(p: FleetProgress) -> None:
        if p.t_s >= 1.0:
            stop.set()

    cfg = small(sensors=14, robots=1, drones=1, rate=4.0, duration_s=120.0, pace=True,
                run_id=tag, scenario="smoke_and_spill", truth_path=tmp_path / "t.jsonl")
    report = run_fleet(cfg, broker.url, stop=stop, progress=progress)
    assert report.stopped_early and 1.0 <= report.duration_s < 3.0 and report.wall_s < 5
    assert report.unacked == 0
    assert wait_for(lambda: len(col.snapshot()) >= report.total_published, 5)
    last_state = {m.topic: json.loads(m.payload)["state"] for m in col.snapshot()
                  if m.channel == "status"}
    assert len(last_state) == 16 and set(last_state.values()) == {"offline"}
    assert read_truth(tmp_path / "t.jsonl") == []  # the scenario's incidents start at 10 s+
    col.close()


def test_killed_fleet_leaves_every_device_offline(broker: Mosquitto) -> None:
    """SIGKILL the simulator: the broker publishes each device's will (sensors included)."""
    tag = run_tag()
    col = Collector(broker.port, tag)
    code = ("from simulators.fleet import FleetConfig, run_fleet; "
            f"run_fleet(FleetConfig(sensors=6, robots=1, drones=1, duration_s=60, "
            f"run_id='{tag}'), '{broker.url}')")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        def states() -> dict[str, str]:
            return {m.topic: json.loads(m.payload)["state"] for m in col.snapshot()
                    if m.channel == "status"}

        assert wait_for(lambda: len(states()) == 8, 30), states()
        assert wait_for(lambda: sum(m.channel == "telemetry" for m in col.snapshot()) > 8, 10)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert wait_for(lambda: set(states().values()) == {"offline"}, 10), states()
        wills = [json.loads(m.payload)["msg_id"] for m in col.snapshot()
                 if m.channel == "status" and json.loads(m.payload)["state"] == "offline"]
        assert len(wills) == 8 and all(w.endswith("-will0") for w in wills)
    finally:
        proc.kill()
        col.close()


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("simulate")(simulate)
    app.command("noop")(lambda: None)  # two commands: ``simulate`` stays a sub-command
    return app


def test_cli_runs_and_reports_json(broker: Mosquitto, tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    result = CliRunner().invoke(_cli(), [
        "simulate", "--sensors", "7", "--robots", "1", "--drones", "1", "--rate", "4",
        "--duration", "11", "--fast", "--json", "--mqtt-url", broker.url,
        "--scenario", "smoke_and_spill", "--truth", str(truth), "--district", "futian"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["telemetry_messages"] == 9 * 44 and report["unacked"] == 0
    assert report["published"]["telemetry"] == 9 * 44
    assert [r.incident_id for r in read_truth(truth)] == ["garbage-huaqiangbei"]


def test_cli_errors_are_short_and_exit_2(broker: Mosquitto) -> None:
    runner = CliRunner()
    bad = runner.invoke(_cli(), ["simulate", "--district", "gotham", "--mqtt-url", broker.url])
    assert bad.exit_code == 2 and "unknown district(s) gotham" in bad.output
    down = runner.invoke(_cli(), ["simulate", "--duration", "1",
                                  "--mqtt-url", f"mqtt://127.0.0.1:{free_port()}"])
    assert down.exit_code == 2 and "cannot connect to 127.0.0.1" in down.output
    scen = runner.invoke(_cli(), ["simulate", "--robots", "0", "--scenario", "smoke_and_spill",
                                  "--mqtt-url", broker.url])
    assert scen.exit_code == 2 and "no robot 'robot-01'" in scen.output


def test_ctrl_c_stops_cleanly(broker: Mosquitto) -> None:
    """The first SIGINT ends the run early: offline statuses, all acknowledged, exit 0."""
    tag = run_tag()
    col = Collector(broker.port, tag)
    code = ("import typer; from gateway.cli.simulate import simulate; typer.run(simulate)")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--sensors", "5", "--robots", "1", "--drones", "1",
         "--duration", "60", "--mqtt-url", broker.url, "--run-id", tag],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: sum(m.channel == "telemetry" for m in col.snapshot()) >= 7, 30)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "(stopped early)" in out.splitlines()[-1]
    last = {m.topic: json.loads(m.payload)["state"] for m in col.snapshot() if m.channel == "status"}
    assert len(last) == 7 and set(last.values()) == {"offline"}
    col.close()
