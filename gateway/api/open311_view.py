"""Reading Open311 service requests back: the query, and the two views of a request.

GeoReport v2 GETs need no key, so anyone may read them; what a key-less caller gets is
privacy-safe: the description masked again by ``triage.pii`` (reports are masked when posted;
this also covers rows that came in before masking, or by other paths), the location rounded to
3 decimals (about 110 m north-south, 100 m east-west here), the district instead of the
address the citizen typed (it may be their door), and no ``media_url`` (a citizen's photo is not
redacted as the platform's own evidence is). A valid token (bearer or ``api_key``) sees the
request as stored. Reporters' contact fields (email, name, phone) are never stored, so no view
has them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from triage import pii
from triage.models import Category
from triage.wording import CATEGORY_NAME

PUBLIC_DECIMALS = 3


class RequestOut(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    lat: float | None
    long: float | None
    media_url: str | None


_SELECT = """
    SELECT o.observation_id, o.ts, o.received_at, o.text, o.lat, o.lon, o.district, o.extra,
           t.category, t.agency, t.status AS ticket_status, t.updated_at AS ticket_updated, t.sla_due,
           i.status AS incident_status
    FROM observations o
    LEFT JOIN incidents i ON i.incident_id = o.incident_id
    LEFT JOIN tickets t ON t.incident_id = o.incident_id
    WHERE o.source = 'citizen'
"""
_WINDOW = " AND o.ts >= %(start)s AND o.ts <= %(end)s"
_FILTERS = """
      AND (%(code)s::text IS NULL OR COALESCE(t.category, o.extra->>'service_code') = %(code)s)
      AND (%(ids)s::text[] IS NULL OR o.observation_id = ANY(%(ids)s))
      AND (%(status)s::text IS NULL OR (CASE WHEN t.status = 'resolved' OR i.status = 'closed'
                                              THEN 'closed' ELSE 'open' END) = %(status)s)
    ORDER BY o.ts DESC LIMIT 1000
"""


async def find_requests(conn: psycopg.AsyncConnection[Any], *, window: tuple[datetime, datetime] | None,
                        code: str | None = None, ids: list[str] | None = None,
                        status: str | None = None) -> list[dict[str, Any]]:
    """Citizen requests, newest first (at most 1000); ``window`` None: any time (a lookup by id)."""
    params: dict[str, Any] = {"code": code, "ids": ids, "status": status, "start": None, "end": None}
    if window is not None:
        params["start"], params["end"] = window
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_SELECT + (_WINDOW if window else "") + _FILTERS, params)
        return await cur.fetchall()


def _coarse(value: float | None) -> float | None:
    return None if value is None else round(value, PUBLIC_DECIMALS)


def request_out(r: dict[str, Any], *, full: bool, salt: bytes) -> RequestOut:
    """One request as GeoReport v2 shows it: as stored (``full``) or privacy-safe (see module doc)."""
    closed = r["ticket_status"] == "resolved" or r["incident_status"] == "closed"
    code = r["category"] or r["extra"].get("service_code")
    name = CATEGORY_NAME["en"].get(Category(code)) if code in Category.__members__.values() else None
    notes = f"ticket {r['ticket_status']}" if r["ticket_status"] else "awaiting triage"
    text = r["text"]
    if full:
        address, lat, lon, media = r["extra"].get("address_string"), r["lat"], r["lon"], r["extra"].get("media_url")
    else:
        address, lat, lon, media = r["district"], _coarse(r["lat"]), _coarse(r["lon"]), None
        text = pii.mask(text, salt) if text else text  # idempotent on text masked at POST
    return RequestOut(
        service_request_id=r["observation_id"], status="closed" if closed else "open", status_notes=notes,
        service_name=name, service_code=code, description=text, agency_responsible=r["agency"],
        service_notice=None, requested_datetime=r["ts"], updated_datetime=r["ticket_updated"] or r["received_at"],
        expected_datetime=r["sla_due"], address=address, lat=lat, long=lon, media_url=media)
