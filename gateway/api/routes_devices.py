"""``/api/v1/devices``: the device registry with derived online/offline state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from devices.payloads import DeviceState
from devices.topics import NAME_RE, Kind
from gateway.api.deps import (
    API_PREFIX,
    AUTH_RESPONSES,
    NOT_FOUND,
    Conn,
    OperatorToken,
    SettingsDep,
    require_role,
)
from gateway.api.params import CursorError, DeviceId, decode_cursor, encode_cursor, query_error
from gateway.security.auth import Role

router = APIRouter(
    prefix=API_PREFIX + "/devices",
    tags=["devices"],
    responses=AUTH_RESPONSES,
    dependencies=[Depends(require_role(Role.OPERATOR))],
)

# A device is offline when it said so (status or last will) or has been silent for longer
# than ``offline_after_s``; a device that talks but never sent a status counts as online.
_EFFECTIVE_STATE = """
    CASE WHEN state = 'offline' OR last_seen < now() - make_interval(secs => %(offline_after)s)
         THEN 'offline'
         WHEN state = 'unknown' THEN 'online'
         ELSE state END
"""
_SELECT = f"""
    SELECT device_id, district, kind, {_EFFECTIVE_STATE} AS state, state AS reported_state,
           state_ts, first_seen, last_seen, battery_pct, lat, lon, alt_m, position_ts,
           firmware, clock_skew_s, messages
    FROM devices
"""
_LIST = f"""
    SELECT * FROM ({_SELECT}
        WHERE (%(district)s::text IS NULL OR district = %(district)s)
          AND (%(kind)s::text IS NULL OR kind = %(kind)s)
          AND (%(after)s::text IS NULL OR device_id > %(after)s)) d
    WHERE (%(state)s::text IS NULL OR state = %(state)s)
      AND (%(online)s::boolean IS NULL OR (state <> 'offline') = %(online)s)
    ORDER BY device_id
    LIMIT %(limit)s
"""
# Distinct metrics by skip scan over the (device_id, metric, ...) index: one index probe
# per metric instead of reading every telemetry row of the device.
_METRICS = """
    WITH RECURSIVE m(metric) AS (
        (SELECT metric FROM telemetry WHERE device_id = %(id)s ORDER BY metric LIMIT 1)
        UNION ALL
        SELECT (SELECT t.metric FROM telemetry t
                WHERE t.device_id = %(id)s AND t.metric > m.metric ORDER BY t.metric LIMIT 1)
        FROM m WHERE m.metric IS NOT NULL
    )
    SELECT metric FROM m WHERE metric IS NOT NULL
"""


class PositionOut(BaseModel):
    lat: float
    lon: float
    alt_m: float | None = None
    ts: datetime | None = Field(default=None, description="When the position was reported")


class DeviceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device_id": "robot-07", "district": "futian", "kind": "robot",
                    "state": "busy", "reported_state": "busy", "online": True,
                    "state_ts": "2026-11-28T08:14:30Z", "first_seen": "2026-11-20T00:00:00Z",
                    "last_seen": "2026-11-28T08:15:00Z", "battery_pct": 76.5,
                    "position": {"lat": 22.5431, "lon": 114.0579, "alt_m": None,
                                 "ts": "2026-11-28T08:15:00Z"},
                    "firmware": "1.4.2", "clock_skew_s": 0.2, "messages": 15234,
                }
            ]
        }
    )

    device_id: str
    district: str
    kind: Kind
    state: str = Field(
        description="Effective state: `offline` when the device said so or has been silent"
        " longer than the gateway's `offline_after_s`, else its reported state"
        " (`online`, `busy`, `charging`, `error`)"
    )
    reported_state: str = Field(description="The last state the device reported (`unknown`"
                                            " before its first status message)")
    online: bool = Field(description="`state` is anything but `offline`")
    state_ts: datetime | None
    first_seen: datetime
    last_seen: datetime
    battery_pct: float | None
    position: PositionOut | None
    firmware: str | None
    clock_skew_s: float | None = Field(description="Device clock minus gateway clock, seconds")
    messages: int = Field(description="Messages received from the device")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DeviceOut:
        position = None
        if row["lat"] is not None and row["lon"] is not None:
            position = PositionOut(
                lat=row["lat"], lon=row["lon"], alt_m=row["alt_m"], ts=row["position_ts"]
            )
        return cls(**row, online=row["state"] != "offline", position=position)


class DeviceDetailOut(DeviceOut):
    metrics: list[str] = Field(
        description="Metric names this device has telemetry for",
        examples=[["battery_pct", "bin_fill_pct", "speed_m_s"]],
    )


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page",
        examples=[None],
    )


NamePattern = Query(pattern=NAME_RE.pattern, examples=["futian"])


@router.get("", summary="List devices")
async def list_devices(
    token: OperatorToken,
    conn: Conn,
    settings: SettingsDep,
    district: Annotated[str | None, NamePattern] = None,
    kind: Annotated[Kind | None, Query()] = None,
    state: Annotated[
        DeviceState | None, Query(description="Effective state, e.g. `offline`")
    ] = None,
    online: Annotated[bool | None, Query(description="Only online or offline devices")] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> DevicePage:
    """Devices sorted by `device_id`, filtered by district, kind and (effective) state."""
    after = None
    if cursor is not None:
        try:
            (after,) = decode_cursor(cursor, (str,))
        except CursorError as err:
            raise query_error("cursor", str(err), cursor) from err
    params = {
        "district": district, "kind": kind.value if kind else None,
        "state": state.value if state else None, "online": online, "after": after,
        "limit": limit, "offline_after": settings.offline_after_s,
    }
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LIST, params)
        rows = await cur.fetchall()
    items = [DeviceOut.from_row(r) for r in rows]
    next_cursor = encode_cursor(items[-1].device_id) if len(items) == limit else None
    return DevicePage(items=items, next_cursor=next_cursor)


@router.get("/{device_id}", summary="One device", responses=NOT_FOUND)
async def get_device(
    token: OperatorToken,
    conn: Conn,
    settings: SettingsDep,
    device_id: DeviceId,
) -> DeviceDetailOut:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            _SELECT + " WHERE device_id = %(id)s",
            {"id": device_id, "offline_after": settings.offline_after_s},
        )
        row = await cur.fetchone()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id[:80]!r}")
        await cur.execute(_METRICS, {"id": device_id})
        metrics = [r["metric"] for r in await cur.fetchall()]
    device = DeviceOut.from_row(row)
    return DeviceDetailOut(**device.model_dump(), metrics=metrics)
