"""``/api/v1/devices/{device_id}/telemetry``: one metric, aggregated with ``time_bucket``."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, status
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import (
    API_PREFIX,
    AUTH_RESPONSES,
    NOT_FOUND,
    OperatorToken,
    ReadConn,
    require_role,
)
from gateway.api.params import (
    Bucket,
    DeviceId,
    Rfc3339,
    format_bucket,
    parse_bucket,
    query_error,
)
from gateway.security.auth import Role

router = APIRouter(
    prefix=API_PREFIX + "/devices",
    tags=["telemetry"],
    responses=AUTH_RESPONSES,
    dependencies=[Depends(require_role(Role.OPERATOR))],
)

MAX_BUCKETS = 10_000
DEFAULT_RANGE = timedelta(hours=24)
# Without an explicit bucket, the smallest of these giving at most TARGET_BUCKETS points.
TARGET_BUCKETS = 300
AUTO_BUCKETS = [
    parse_bucket(b)
    for b in ("1s", "5s", "10s", "30s", "1m", "5m", "10m", "15m", "30m", "1h", "3h", "6h",
              "12h", "1d", "7d", "30d", "366d")
]

# Only non-empty buckets come back (``time_bucket_gapfill`` is not in the Apache edition);
# a chart should break its line where buckets are missing.
_QUERY = """
    SELECT time_bucket(%(width)s::interval, ts) AS bucket,
           avg(value) AS avg, min(value) AS min, max(value) AS max, count(*) AS count
    FROM telemetry
    WHERE device_id = %(id)s AND metric = %(metric)s AND ts >= %(start)s AND ts < %(end)s
    GROUP BY 1
    ORDER BY 1
"""


class BucketOut(BaseModel):
    bucket: datetime = Field(description="Start of the bucket (UTC)")
    avg: float
    min: float
    max: float
    count: int


class TelemetryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device_id": "aq-0042", "metric": "pm25",
                    "start": "2026-11-28T08:00:00Z", "end": "2026-11-28T08:10:00Z",
                    "bucket": "5m",
                    "items": [
                        {"bucket": "2026-11-28T08:00:00Z", "avg": 35.2, "min": 31.0,
                         "max": 40.1, "count": 300},
                        {"bucket": "2026-11-28T08:05:00Z", "avg": 36.8, "min": 33.5,
                         "max": 44.0, "count": 300},
                    ],
                }
            ]
        }
    )

    device_id: str
    metric: str
    start: datetime
    end: datetime
    bucket: str = Field(description="The bucket width used, e.g. `5m`")
    items: list[BucketOut] = Field(description="Non-empty buckets, oldest first")


def choose_bucket(span: timedelta) -> timedelta:
    for width in AUTO_BUCKETS:
        if span / width <= TARGET_BUCKETS:
            return width
    return AUTO_BUCKETS[-1]


@router.get(
    "/{device_id}/telemetry",
    summary="Bucketed telemetry of one metric",
    responses=NOT_FOUND,
)
async def telemetry(
    token: OperatorToken,
    conn: ReadConn,  # history may lag the primary by the standby's replay delay
    device_id: DeviceId,
    metric: Annotated[
        str, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$", examples=["pm25", "battery_pct"])
    ],
    start: Annotated[
        Rfc3339 | None, Query(description="Inclusive; default `end` minus 24 h")
    ] = None,
    end: Annotated[Rfc3339 | None, Query(description="Exclusive; default now")] = None,
    bucket: Annotated[
        Bucket | None,
        Query(description="Bucket width; default: a width giving at most 300 buckets"),
    ] = None,
) -> TelemetryOut:
    """Average, minimum, maximum and count of `metric` per bucket in [`start`, `end`).

    Ranges that would need more than 10,000 buckets are refused with 422.
    """
    end = end or datetime.now(UTC)
    if start is None:
        try:
            start = end - DEFAULT_RANGE
        except OverflowError as err:  # end within a day of year 1
            raise query_error("end", "end is too early for the default range", None) from err
    if start >= end:
        raise query_error("start", "start must be before end", start.isoformat())
    span = end - start
    width = bucket or choose_bucket(span)
    buckets = math.ceil(span / width)
    if buckets > MAX_BUCKETS:
        raise query_error(
            "bucket",
            f"{format_bucket(width)} buckets over this range make {buckets};"
            f" at most {MAX_BUCKETS} are allowed: use a wider bucket or a shorter range",
            format_bucket(width),
        )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT 1 FROM devices WHERE device_id = %s", (device_id,))
        if await cur.fetchone() is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id[:80]!r}")
        try:
            await cur.execute(
                _QUERY,
                {"width": width, "id": device_id, "metric": metric, "start": start, "end": end},
            )
            rows = await cur.fetchall()
        except psycopg.DataError as err:  # e.g. a bucket starting before year 1
            raise query_error("start", f"cannot bucket this range: {err}", None) from err
    return TelemetryOut(
        device_id=device_id, metric=metric, start=start, end=end,
        bucket=format_bucket(width), items=[BucketOut(**r) for r in rows],
    )
