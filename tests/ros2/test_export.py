"""bags export: the evidence window from the database as an MCAP bag, read back with rosbags."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from rosbags.highlevel import AnyReader

from devices.ros2.bags import BagFile
from devices.ros2.mapping import Ros2Mapper
from devices.topics import Channel, Kind, Topic
from gateway.bags.exporter import ExportError, ExportWindow, export_bag, incident_window

T0 = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
DEV = "drone-07"


def _seed(db_url: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn:
        for i in range(6):
            ts = T0 + timedelta(seconds=10 * i, microseconds=123)
            conn.execute("INSERT INTO positions VALUES (%s, %s, %s, %s, %s, %s)",
                         (ts, DEV, 22.54 + i / 1e4, 114.05, None if i == 2 else 80.0 + i, f"m{i}"))
            for metric, value in (("battery_pct", 90.0 - i), ("altitude_m", 80.5 + i)):
                conn.execute("INSERT INTO telemetry VALUES (%s, %s, %s, %s, %s, %s)",
                             (ts, DEV, metric, value, f"m{i}", now))
        conn.execute(
            "INSERT INTO events (ts, received_at, device_id, district, kind, msg_id, label,"
            " confidence, text, value, unit, lat, lon, cmd_id) VALUES"
            " (%s, %s, %s, 'futian', 'drone', 'e1', 'smoke', 0.8, '烟 smoke', NULL, NULL,"
            " 22.55, 114.06, NULL)", (T0 + timedelta(seconds=15), now, DEV))
        conn.execute("INSERT INTO device_status VALUES (%s, %s, %s, 'online', 77.5, 's1')",
                     (T0 + timedelta(seconds=1), now, DEV))
        # outside the window or another device: must not be exported
        conn.execute("INSERT INTO positions VALUES (%s, %s, 1, 1, NULL, 'x')",
                     (T0 + timedelta(hours=2), DEV))
        conn.execute("INSERT INTO positions VALUES (%s, 'drone-99', 1, 1, NULL, 'y')", (T0,))


def test_export_reads_back_with_rosbags(db_url: str, tmp_path: Path) -> None:
    _seed(db_url)
    out = tmp_path / "evidence"
    window = ExportWindow(DEV, T0, T0 + timedelta(hours=1))
    report = export_bag(db_url, window, out)
    assert report.counts == {"/fix": 6, "/urbanops/telemetry": 6, "/urbanops/events": 1,
                             "/urbanops/status": 1}
    assert list(out.glob("*.mcap")) and (out / "metadata.yaml").exists()
    with AnyReader([out]) as reader:  # decodes with the definitions embedded in the bag
        got: dict[str, list[Any]] = {}
        stamps = []
        for conn, log_ns, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            got.setdefault(conn.topic, []).append(msg)
            stamps.append(log_ns)
    assert stamps == sorted(stamps)
    fixes = got["/fix"]
    assert [f.latitude for f in fixes] == [22.54 + i / 1e4 for i in range(6)]
    assert math.isnan(fixes[2].altitude) and fixes[3].altitude == 83.0
    assert fixes[0].header.stamp.nanosec == 123_000 and fixes[0].header.frame_id == "m0"
    tel = got["/urbanops/telemetry"][5]
    assert dict(zip(tel.names, tel.values.tolist(), strict=True)) == {"altitude_m": 85.5,
                                                                      "battery_pct": 85.0}
    (event,) = got["/urbanops/events"]
    assert (event.label, event.text, event.has_position) == ("smoke", "烟 smoke", True)
    assert math.isnan(event.value) and event.confidence == pytest.approx(0.8)
    (status,) = got["/urbanops/status"]
    assert (status.state, status.battery_pct) == ("online", 77.5)


def test_exported_bag_maps_back_to_the_same_data(db_url: str, tmp_path: Path) -> None:
    _seed(db_url)
    out = tmp_path / "evidence"
    export_bag(db_url, ExportWindow(DEV, T0, T0 + timedelta(hours=1)), out, distro="jazzy")
    mapper = Ros2Mapper()
    positions, metrics = [], {}
    with BagFile(out) as bag:
        for m in bag.messages():
            r = mapper.map(Topic("futian", Kind.DRONE, DEV, Channel.ROS2, m.topic), m.ros_type,
                           m.data, None, None)
            if r.position:
                p = r.position.position
                positions.append((r.ts, p.lat, p.lon, p.alt_m))
            if r.telemetry:
                metrics.update({(r.ts, k): v for k, v in r.telemetry.metrics.items()})
    with psycopg.connect(db_url) as conn:
        db_pos = conn.execute("SELECT ts, lat, lon, alt_m FROM positions WHERE device_id = %s"
                              " AND ts < %s ORDER BY ts", (DEV, T0 + timedelta(hours=1))).fetchall()
        db_tel = conn.execute("SELECT ts, metric, value FROM telemetry").fetchall()
    assert positions == [tuple(r) for r in db_pos]
    assert metrics == {(ts, k): v for ts, k, v in db_tel}


def test_export_refuses_existing_output_and_bad_windows(db_url: str, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="exists"):
        export_bag(db_url, ExportWindow(DEV, T0, T0 + timedelta(hours=1)), tmp_path)
    with pytest.raises(ExportError, match="after start"):
        ExportWindow(DEV, T0, T0)
    with pytest.raises(ExportError, match="UTC offset"):
        ExportWindow(DEV, T0.replace(tzinfo=None), T0 + timedelta(hours=1))


def test_incident_export_is_not_available_yet(db_url: str) -> None:
    with psycopg.connect(db_url) as conn, pytest.raises(ExportError, match="not available yet"):
        incident_window(conn, "inc-0001")
