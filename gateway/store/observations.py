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


def insert_observations(conn: psycopg.Connection[Any], rows: Sequence[ObservationRow]) -> int:
    """Insert (idempotently, on observation_id + ts); return how many were new."""
    if not rows:
        return 0
    sql = (f"INSERT INTO observations ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
           " ON CONFLICT DO NOTHING")
    params = [tuple(Jsonb(r.extra) if c == "extra" else getattr(r, c) for c in COLUMNS) for r in rows]
    with conn.cursor() as cur:
        cur.executemany(sql, params, returning=False)
        inserted = cur.rowcount
    conn.commit()
    return max(inserted, 0)
