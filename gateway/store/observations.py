"""Observation rows (migration 004): written by vision and triage wiring, read by the API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field


class ObservationRow(BaseModel):
    """One observation as stored; field names follow SPEC §4's observation shape."""

    ts: datetime
    observation_id: str = Field(max_length=128)
    source: str
    device_id: str | None = None
    device_kind: str | None = None
    district: str | None = None
    label: str | None = None
    confidence: float | None = None
    count: int | None = None
    metric: str | None = None
    value: float | None = None
    text: str | None = None
    lat: float | None = None
    lon: float | None = None
    place_tags: list[str] = Field(default_factory=list)
    evidence_path: str | None = None
    incident_id: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


COLUMNS = ("ts", "observation_id", "source", "device_id", "device_kind", "district", "label",
           "confidence", "count", "metric", "value", "text", "lat", "lon", "place_tags",
           "evidence_path", "incident_id", "extra")


INSERT_SQL = (f"INSERT INTO observations ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
              " ON CONFLICT DO NOTHING")
# Every new observation also goes to the triage inbox (migration 005) in the same transaction.
INBOX_SQL = "INSERT INTO triage_inbox (observation_id, ts) VALUES (%s, %s)"
FEED_CHANNEL = "urbanops_feed"


def _params(r: ObservationRow) -> tuple[Any, ...]:
    return tuple(Jsonb(r.extra) if c == "extra" else getattr(r, c) for c in COLUMNS)


def insert_observations(conn: psycopg.Connection[Any], rows: Sequence[ObservationRow], *,
                        triage: bool = True) -> int:
    """Insert (idempotently, on observation_id + ts) and queue the new ones for triage; commit.
    Returns how many were new. One pipelined round trip per statement kind, not per row."""
    if not rows:
        return 0
    new: list[tuple[Any, ...]] = []
    with conn.cursor() as cur:
        cur.executemany(INSERT_SQL + " RETURNING observation_id, ts", [_params(r) for r in rows], returning=True)
        while True:
            new.extend(cur.fetchall())
            if not cur.nextset():
                break
        if triage and new:
            cur.executemany(INBOX_SQL, new)
    conn.commit()
    return len(new)


async def insert_observations_async(conn: psycopg.AsyncConnection[Any], rows: Sequence[ObservationRow], *,
                                    triage: bool = True) -> int:
    """The same for the API's async connections (e.g. an Open311 citizen report)."""
    inserted = 0
    async with conn.transaction(), conn.cursor() as cur:
        for r in rows:
            await cur.execute(INSERT_SQL, _params(r))
            if cur.rowcount > 0:
                inserted += 1
                if triage:
                    await cur.execute(INBOX_SQL, (r.observation_id, r.ts))
    return inserted
