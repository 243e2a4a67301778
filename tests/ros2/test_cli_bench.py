"""``urbanops bags`` sub-commands and the ros2 decode benchmark."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from gateway.bench.ros2 import run_ros2_bench
from gateway.cli.bags import app
from gateway.local_services import Mosquitto
from tests.ros2.bagtools import SHARED_BAGS, Collector, metadata_counts

runner = CliRunner()
TALKER = SHARED_BAGS / "talker_mcap"
needs_bags = pytest.mark.skipif(not TALKER.exists(), reason=f"no shared bags under {SHARED_BAGS}")


def test_help() -> None:
    for args in (["--help"], ["import", "--help"], ["export", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    assert "--rate" in runner.invoke(app, ["import", "--help"]).output


@needs_bags
def test_import_dry_run_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANOPS_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = runner.invoke(app, ["import", str(TALKER), "--device", "drone-07", "--district",
                                 "futian", "--dry-run", "--rate", "max", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["ok"] and report["counts"] == metadata_counts(TALKER)


@needs_bags
def test_import_publishes_to_the_configured_broker(monkeypatch: pytest.MonkeyPatch,
                                                   broker: Mosquitto, db_url: str) -> None:
    monkeypatch.setenv("URBANOPS_MQTT_URL", broker.url)
    monkeypatch.setenv("URBANOPS_DATABASE_URL", db_url)
    with psycopg.connect(db_url) as conn:  # a registered robot: --kind comes from the registry
        now = datetime.now(UTC)
        conn.execute("INSERT INTO devices (device_id, district, kind, first_seen, last_seen)"
                     " VALUES ('robot-42', 'futian', 'robot', %s, %s)", (now, now))
    collector = Collector(broker.port, "city/futian/robot/robot-42/ros2/#")
    try:
        result = runner.invoke(app, ["import", str(TALKER), "--device", "robot-42", "--district",
                                     "futian", "--rate", "max"])
        got = collector.wait_for(20)
    finally:
        collector.close()
    assert result.exit_code == 0, result.output
    assert len(got) == 20 and "20 messages published" in result.output


def test_import_bad_rate_and_missing_bag(tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", str(tmp_path / "nope"), "--device", "d-1",
                                 "--district", "futian", "--kind", "drone", "--dry-run"])
    assert result.exit_code == 1 and "does not exist" in result.output
    result = runner.invoke(app, ["import", str(tmp_path), "--device", "d-1", "--district",
                                 "futian", "--kind", "drone", "--rate", "fast"])
    assert result.exit_code != 0


def test_export_command(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("URBANOPS_DATABASE_URL", db_url)
    t0 = datetime(2026, 11, 28, tzinfo=UTC)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO positions VALUES (%s, 'drone-07', 22.5, 114.0, 10.0, 'm1')",
                     (t0 + timedelta(minutes=1),))
    out = tmp_path / "ev"
    result = runner.invoke(app, ["export", "--device", "drone-07", "--start", t0.isoformat(),
                                 "--end", (t0 + timedelta(hours=1)).isoformat(), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "metadata.yaml").exists() and "/fix" in result.output
    result = runner.invoke(app, ["export", "--incident", "inc-1"])
    assert result.exit_code == 1 and "not available yet" in result.output
    result = runner.invoke(app, ["export", "--device", "drone-07", "--start", "2026-11-28T00:00",
                                 "--end", "2026-11-28T01:00"])
    assert result.exit_code != 0 and "UTC offset" in result.output


def test_bench_reports_positive_rates() -> None:
    figures = run_ros2_bench(0.2)
    assert figures["navsatfix_msgs_per_s"] > 100  # type: ignore[operator]
    assert figures["compressed_image_msgs_per_s"] > 10  # type: ignore[operator]
    assert figures["raw_image_msgs_per_s"] > 0  # type: ignore[operator]
