"""Writes a ``Batch`` in one transaction with COPY.

The fast path COPYs straight into the hypertables, in binary for the row tables (no text
formatting here, no parsing in the server: both were a visible part of ingest's CPU). A unique violation means the batch
holds redeliveries of rows already stored (a gateway restart): the transaction is rolled
back and the batch goes through temporary staging tables with ``ON CONFLICT DO NOTHING``
instead, so a redelivered message is never stored twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors, sql

from gateway.store.batch import Batch, DeviceSeen
from gateway.store.observations import FEED_CHANNEL

log = logging.getLogger(__name__)

TABLES: dict[str, tuple[str, ...]] = {
    "telemetry": ("ts", "device_id", "metric", "value", "msg_id", "received_at"),
    "positions": ("ts", "device_id", "lat", "lon", "alt_m", "msg_id"),
    "events": ("ts", "received_at", "device_id", "district", "kind", "msg_id", "label",
               "confidence", "text", "value", "unit", "lat", "lon", "cmd_id"),
    "device_status": ("ts", "received_at", "device_id", "state", "battery_pct", "msg_id"),
    "ros2_raw": ("ts", "received_at", "device_id", "ros_topic", "ros_type", "msg_id", "data"),
}
DEAD_LETTER_COLUMNS = ("received_at", "topic", "reason", "payload_size", "payload_excerpt",
                       "device_id")
# PostgreSQL types of TABLES' columns (migration 001) for binary COPY; tables not listed
# (rare: raw ROS 2, dead letters) are copied as text.
BINARY_TYPES: dict[str, tuple[str, ...]] = {
    "telemetry": ("timestamptz", "text", "text", "float8", "text", "timestamptz"),
    "positions": ("timestamptz", "text", "float8", "float8", "float8", "text"),
    "events": ("timestamptz", "timestamptz", "text", "text", "text", "text", "text", "float8", "text",
               "float8", "text", "float8", "float8", "text"),
    "device_status": ("timestamptz", "timestamptz", "text", "text", "float8", "text"),
}


class StoreError(RuntimeError):
    """The database refused or lost a write."""


@dataclass
class WriteResult:
    inserted: dict[str, int]
    duplicates: int


def _rows(batch: Batch) -> dict[str, Sequence[tuple[Any, ...]]]:
    return {
        "telemetry": batch.telemetry,
        "positions": batch.positions,
        "events": batch.events,
        "device_status": batch.statuses,
        "ros2_raw": batch.ros2_raw,
    }


def _copy(cur: psycopg.Cursor[Any], table: str, columns: Sequence[str],
          rows: Sequence[tuple[Any, ...]], types: Sequence[str] | None = None) -> None:
    stmt = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(" (FORMAT BINARY)" if types else ""))
    with cur.copy(stmt) as copy:
        if types:
            copy.set_types(types)
        write_row = copy.write_row
        for row in rows:
            write_row(row)


def write_batch(conn: psycopg.Connection[Any], batch: Batch,
                new_devices: dict[str, DeviceSeen] | None = None) -> WriteResult:
    """Commit everything in ``batch`` exactly once; raise ``StoreError`` on failure.

    ``new_devices`` (devices this process has not yet seen in the registry) are registered in
    the same transaction: a committed — and so acknowledged — row always has its device listed,
    even if the process dies before the once-a-second registry flush. First sight is rare, so
    this costs nothing on the hot path.
    """
    try:
        return _write(conn, batch, staged=False, new_devices=new_devices)
    except errors.UniqueViolation:
        conn.rollback()
        return _write(conn, batch, staged=True, new_devices=new_devices)
    except psycopg.Error as err:
        conn.rollback()
        raise StoreError(f"write of {batch.rows} rows failed: {err}") from err


def _write(conn: psycopg.Connection[Any], batch: Batch, staged: bool,
           new_devices: dict[str, DeviceSeen] | None = None) -> WriteResult:
    inserted: dict[str, int] = {}
    duplicates = 0
    try:
        with conn.cursor() as cur:
            for table, rows in _rows(batch).items():
                if not rows:
                    continue
                columns, types = TABLES[table], BINARY_TYPES.get(table)
                if not staged:
                    _copy(cur, table, columns, rows, types)
                    inserted[table] = len(rows)
                    continue
                stage = f"stage_{table}"
                cur.execute(sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS)"
                    " ON COMMIT DELETE ROWS").format(sql.Identifier(stage), sql.Identifier(table)))
                _copy(cur, stage, columns, rows, types)
                cur.execute(sql.SQL(
                    "INSERT INTO {} SELECT * FROM {} ON CONFLICT DO NOTHING").format(
                        sql.Identifier(table), sql.Identifier(stage)))
                inserted[table] = cur.rowcount
                duplicates += len(rows) - cur.rowcount
            if batch.dead_letters:
                _copy(cur, "dead_letters", DEAD_LETTER_COLUMNS, batch.dead_letters)
                inserted["dead_letters"] = len(batch.dead_letters)
            if batch.statuses:  # the live feed shows device status changes (delivered on commit)
                cur.executemany("SELECT pg_notify(%s, %s)", [
                    (FEED_CHANNEL, json.dumps({"type": "device", "id": s[2], "ts": s[0].isoformat(),
                                               "data": {"state": s[3], "battery_pct": s[4]}}))
                    for s in batch.statuses])
            if new_devices:  # messages 0: the registry flush counts them, once
                cur.executemany(UPSERT_DEVICE, _device_params(new_devices, count_messages=False))
        conn.commit()
    except errors.UniqueViolation:
        raise
    except psycopg.Error as err:
        conn.rollback()
        raise StoreError(f"write of {batch.rows} rows failed: {err}") from err
    return WriteResult(inserted, duplicates)


UPSERT_DEVICE = """
INSERT INTO devices AS d (device_id, district, kind, first_seen, last_seen, messages, state,
    state_ts, battery_pct, lat, lon, alt_m, position_ts, firmware, clock_skew_s)
VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s, 'online'), %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (device_id) DO UPDATE SET
    last_seen = greatest(d.last_seen, excluded.last_seen),
    messages = d.messages + excluded.messages,
    state = CASE WHEN %s::text IS NOT NULL AND (d.state_ts IS NULL OR excluded.state_ts >= d.state_ts)
                 THEN excluded.state
                 WHEN %s::text IS NULL AND d.state IN ('offline', 'unknown') THEN 'online'
                 ELSE d.state END,
    state_ts = greatest(d.state_ts, excluded.state_ts),
    battery_pct = coalesce(excluded.battery_pct, d.battery_pct),
    lat = CASE WHEN excluded.position_ts >= coalesce(d.position_ts, '-infinity') THEN excluded.lat ELSE d.lat END,
    lon = CASE WHEN excluded.position_ts >= coalesce(d.position_ts, '-infinity') THEN excluded.lon ELSE d.lon END,
    alt_m = CASE WHEN excluded.position_ts >= coalesce(d.position_ts, '-infinity') THEN excluded.alt_m ELSE d.alt_m END,
    position_ts = greatest(d.position_ts, excluded.position_ts),
    firmware = coalesce(excluded.firmware, d.firmware),
    clock_skew_s = CASE WHEN excluded.clock_skew_s IS NOT NULL THEN excluded.clock_skew_s
                        ELSE d.clock_skew_s END
"""


def _device_params(updates: dict[str, DeviceSeen], count_messages: bool = True) -> list[tuple[Any, ...]]:
    return [
        (dev_id, d.district, d.kind, d.first_seen, d.last_seen, d.messages if count_messages else 0, d.state,
         d.state_ts, d.battery_pct, d.lat, d.lon, d.alt_m, d.position_ts, d.firmware, d.clock_skew_s,
         d.state, d.state)
        for dev_id, d in sorted(updates.items())  # fixed order: no deadlocks between gateways
    ]


def upsert_devices(conn: psycopg.Connection[Any], updates: dict[str, DeviceSeen]) -> None:
    """Refresh the device registry (last seen, state, battery, position, clock skew)."""
    if not updates:
        return
    try:
        with conn.cursor() as cur:
            cur.executemany(UPSERT_DEVICE, _device_params(updates))
        conn.commit()
    except psycopg.Error as err:
        conn.rollback()
        raise StoreError(f"device registry update failed: {err}") from err


def load_devices(conn: psycopg.Connection[Any]) -> dict[str, tuple[str, str]]:
    rows = conn.execute("SELECT device_id, district, kind FROM devices").fetchall()
    conn.commit()
    return {r[0]: (r[1], r[2]) for r in rows}
