"""Migrations, the COPY writer's dedupe, and store upkeep against real TimescaleDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from gateway.store.batch import Batch, DeviceSeen
from gateway.store.maintenance import run_maintenance
from gateway.store.migrate import load_migrations, migrate
from gateway.store.writer import upsert_devices, write_batch

NOW = datetime.now(UTC).replace(microsecond=0)


def _batch(n: int, start: int = 0, ts: datetime = NOW) -> Batch:
    b = Batch()
    for i in range(start, start + n):
        b.telemetry.append((ts + timedelta(seconds=i), "aq-1", "pm25", float(i), f"m{i}", ts))
    return b


def test_migrations_are_idempotent_and_edition_specific(db_url: str) -> None:
    assert migrate(db_url) == []  # the template was migrated already
    apache = [m.name for m in load_migrations("apache")]
    timescale = [m.name for m in load_migrations("timescale")]
    assert apache == timescale and "rollups" in apache
    with psycopg.connect(db_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        assert versions == [m.version for m in load_migrations("apache")]
        hyper = {r[0] for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")}
        assert {"telemetry", "events", "positions", "device_status", "observations"} <= hyper


def test_redelivered_rows_are_not_stored_twice(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        first = write_batch(conn, _batch(100))
        assert first.inserted["telemetry"] == 100 and first.duplicates == 0
        again = write_batch(conn, _batch(150, start=50))  # 50 redelivered, 100 new
        assert again.inserted["telemetry"] == 100 and again.duplicates == 50
        row = conn.execute("SELECT count(*), count(DISTINCT msg_id) FROM telemetry").fetchone()
        assert row == (200, 200)


def test_first_sight_of_a_device_commits_with_its_rows(db_url: str) -> None:
    """The registry row is in the rows' transaction (a crash before the flush cannot leave rows
    whose device is unlisted), and the later flush counts the messages once."""
    seen = DeviceSeen("futian", "sensor", NOW, NOW, messages=100, lat=22.54, lon=114.05, position_ts=NOW)
    with psycopg.connect(db_url) as conn:
        write_batch(conn, _batch(100), {"aq-1": seen})
        with psycopg.connect(db_url) as other:  # another session sees both, or neither
            row = other.execute("SELECT district, kind, messages, lat FROM devices WHERE device_id = 'aq-1'").fetchone()
        assert row == ("futian", "sensor", 0, 22.54)
        upsert_devices(conn, {"aq-1": seen})
        assert conn.execute("SELECT messages FROM devices WHERE device_id = 'aq-1'").fetchone() == (100,)


def test_maintenance_rollup_retention_offline(db_url: str) -> None:
    old = NOW - timedelta(days=40)
    with psycopg.connect(db_url) as conn:
        write_batch(conn, _batch(120, ts=NOW - timedelta(minutes=5)))
        write_batch(conn, _batch(10, ts=old))
        upsert_devices(conn, {
            "aq-1": DeviceSeen("futian", "sensor", NOW, NOW, messages=1),
            "aq-2": DeviceSeen("futian", "sensor", NOW, NOW - timedelta(hours=1), messages=1),
        })
        report = run_maintenance(conn, retention_days=30, offline_after_s=600, now=NOW)
        assert report.dropped_chunks >= 1
        assert conn.execute("SELECT count(*) FROM telemetry WHERE ts < %s", (NOW - timedelta(days=30),)
                            ).fetchone() == (0,)
        rollup = conn.execute("SELECT sum(count), min(min), max(max) FROM telemetry_1m").fetchone()
        assert rollup == (120, 0.0, 119.0)
        states = dict(conn.execute("SELECT device_id, state FROM devices").fetchall())
        assert states == {"aq-1": "online", "aq-2": "offline"}
        # Running again converges: same rollup, nothing more to drop or mark.
        again = run_maintenance(conn, retention_days=30, offline_after_s=600, now=NOW)
        assert (again.dropped_chunks, again.marked_offline) == (0, 0)
        assert conn.execute("SELECT sum(count) FROM telemetry_1m").fetchone() == (120,)
