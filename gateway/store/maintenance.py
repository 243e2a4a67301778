"""Periodic store upkeep the database cannot do by itself under the Apache license:
one-minute rollups, retention by ``drop_chunks``, and marking silent devices offline."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

log = logging.getLogger(__name__)

# Late rows (device clocks, redelivery after an outage) land in recent buckets: recompute
# this far back every run so the rollup converges on the raw table.
ROLLUP_LOOKBACK = timedelta(minutes=10)

ROLLUP_SQL = """
INSERT INTO telemetry_1m (bucket, device_id, metric, avg, min, max, count)
SELECT time_bucket(INTERVAL '1 minute', ts), device_id, metric,
       avg(value), min(value), max(value), count(*)
FROM telemetry WHERE ts >= %s AND ts < %s
GROUP BY 1, 2, 3
ON CONFLICT (device_id, metric, bucket) DO UPDATE SET
    avg = excluded.avg, min = excluded.min, max = excluded.max, count = excluded.count
"""


@dataclass
class MaintenanceReport:
    rollup_rows: int = 0
    dropped_chunks: int = 0
    marked_offline: int = 0


def license_of(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SHOW timescaledb.license").fetchone()
    return str(row[0]) if row else "apache"


def run_maintenance(conn: psycopg.Connection[Any], *, retention_days: int, offline_after_s: float,
                    now: datetime | None = None) -> MaintenanceReport:
    now = now or datetime.now(UTC)
    report = MaintenanceReport()
    licensed = license_of(conn) == "timescale"
    with conn.transaction():
        if not licensed:  # the continuous aggregate and its policy do this when licensed
            row = conn.execute(
                "SELECT value FROM maintenance_state WHERE name = 'rollup_watermark'"
            ).fetchone()
            start = (row[0] if row else now - timedelta(days=1)) - ROLLUP_LOOKBACK
            cur = conn.execute(ROLLUP_SQL, (start, now))
            report.rollup_rows = max(cur.rowcount, 0)
            conn.execute(
                "INSERT INTO maintenance_state (name, value) VALUES ('rollup_watermark', %s)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (now,))
            for table in ("telemetry", "positions", "telemetry_1m"):
                cur = conn.execute("SELECT drop_chunks(%s, older_than => %s)",
                                   (table, now - timedelta(days=retention_days)))
                report.dropped_chunks += len(cur.fetchall())
        cur = conn.execute(
            "UPDATE devices SET state = 'offline', state_ts = %s"
            " WHERE state NOT IN ('offline', 'unknown') AND last_seen < %s",
            (now, now - timedelta(seconds=offline_after_s)),
        )
        report.marked_offline = max(cur.rowcount, 0)
    return report


class MaintenanceLoop:
    """Runs ``run_maintenance`` every ``interval_s`` on its own connection."""

    def __init__(self, database_url: str, interval_s: float, retention_days: int,
                 offline_after_s: float) -> None:
        self.database_url = database_url
        self.interval_s = interval_s
        self.retention_days = retention_days
        self.offline_after_s = offline_after_s
        self.last: MaintenanceReport | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="maintenance", daemon=True)

    def start(self) -> MaintenanceLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                with psycopg.connect(self.database_url, connect_timeout=5) as conn:
                    self.last = run_maintenance(conn, retention_days=self.retention_days,
                                                offline_after_s=self.offline_after_s)
            except psycopg.Error as err:
                log.warning("maintenance skipped: %s", err)
