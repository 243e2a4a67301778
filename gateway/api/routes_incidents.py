"""``/api/v1/incidents``: correlated incidents, newest change first; one incident with its
observations; and ``/api/v1/evidence/{path}``: the redacted evidence images under the data dir.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path as FsPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import FileResponse
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from gateway.api.deps import (
    API_PREFIX,
    AUTH_RESPONSES,
    NOT_FOUND,
    City,
    Conn,
    OperatorToken,
    SettingsDep,
    require_role,
)
from gateway.api.params import CursorError, Rfc3339, decode_cursor, encode_cursor, parse_rfc3339, query_error
from gateway.city import CityHolder
from gateway.security.auth import Role
from triage.models import Category, Severity

router = APIRouter(
    prefix=API_PREFIX,
    tags=["incidents"],
    responses=AUTH_RESPONSES,
    dependencies=[Depends(require_role(Role.OPERATOR))],
)

EVIDENCE_PREFIX = API_PREFIX + "/evidence/"
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
District = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["futian"])]

_COLUMNS = """i.incident_id, i.district, i.category, i.severity, i.status, i.opened_at, i.updated_at,
    i.closed_at, i.lat, i.lon, i.place_tags, i.observation_count,
    t.ticket_id, t.status AS ticket_status, t.agency, t.sla_due, t.body ->> 'language' AS language"""
_LIST = f"""
    SELECT {_COLUMNS} FROM incidents i LEFT JOIN tickets t USING (incident_id)
    WHERE (%(district)s::text IS NULL OR i.district = %(district)s)
      AND (%(category)s::text IS NULL OR i.category = %(category)s)
      AND (%(severity)s::text IS NULL OR i.severity = %(severity)s)
      AND (%(since)s::timestamptz IS NULL OR i.updated_at >= %(since)s)
      AND (%(at)s::timestamptz IS NULL OR (i.updated_at, i.incident_id) < (%(at)s, %(id)s::text))
    ORDER BY i.updated_at DESC, i.incident_id DESC
    LIMIT %(limit)s
"""
_OBSERVATIONS = """
    SELECT observation_id, ts, source, device_id, device_kind, label, confidence, count, metric,
           value, text, lat, lon, evidence_path
    FROM observations WHERE incident_id = %s ORDER BY ts LIMIT 500
"""


class IncidentOut(BaseModel):
    incident_id: str = Field(examples=["inc-0001"])
    district: str | None
    category: str | None
    severity: str | None
    status: str = Field(examples=["open"])
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    lat: float | None
    lon: float | None
    place_tags: list[str]
    observation_count: int
    ticket_id: str | None = Field(description="The incident's ticket, once triaged")
    ticket_status: str | None
    agency: str | None
    sla_due: datetime | None
    address: dict[str, str] = Field(default_factory=dict, examples=[{"zh": "福田区 莲花山公园附近（深南大道）",
                                    "en": "Lianhuashan Park (Shennan Boulevard), Futian"}],
                                    description="district, nearest named place and street, in each of the city's "
                                                "languages (from the city pack; empty without a position)")
    place: str | None = Field(None, description="the address in the incident's language (its ticket's, else "
                                                "the city's first)")


class ObservationOut(BaseModel):
    observation_id: str
    ts: datetime
    source: str
    device_id: str | None
    device_kind: str | None
    label: str | None
    confidence: float | None
    count: int | None
    metric: str | None
    value: float | None
    text: str | None
    lat: float | None
    lon: float | None
    evidence_url: str | None = Field(description="The redacted evidence image (operator token needed)",
                                     examples=["/api/v1/evidence/evidence/futian/20261128/drone-03-ab12.jpg"])


class IncidentDetailOut(IncidentOut):
    body: dict[str, Any] = Field(description="The incident as triaged (SPEC §4 input shape)")
    observations: list[ObservationOut]


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None = Field(examples=[None])


def _named(row: dict[str, Any], city: CityHolder) -> dict[str, Any]:
    """A row with its address from the city pack (where it is, as people there say it)."""
    lang = row.pop("language", None)
    if row.get("lat") is None or row.get("lon") is None:
        return row
    names = city.names(row["lat"], row["lon"], row.get("district"))
    first = city.pack.config.languages[0]
    return {**row, "address": names, "place": names.get(lang or first) or names.get(first)}


def evidence_url(path: str | None) -> str | None:
    return EVIDENCE_PREFIX + quote(path.lstrip("/")) if path else None


@router.get("/incidents", summary="Incidents, most recently changed first")
async def list_incidents(
    token: OperatorToken,
    conn: Conn,
    city: City,
    district: District = None,
    category: Category | None = None,
    severity: Severity | None = None,
    since: Annotated[Rfc3339 | None, Query(description="Only incidents changed at or after this time")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> IncidentPage:
    at, last_id = None, None
    if cursor is not None:
        try:
            at_text, last_id = decode_cursor(cursor, (str, str))
            at = parse_rfc3339(at_text)
        except (CursorError, ValueError) as err:
            raise query_error("cursor", "cursor is not one this API issued", cursor) from err
    params = {"district": district, "category": category.value if category else None,
              "severity": severity.value if severity else None, "since": since, "at": at, "id": last_id,
              "limit": limit}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LIST, params)
        items = [IncidentOut(**_named(r, city)) for r in await cur.fetchall()]
    next_cursor = None
    if len(items) == limit:
        next_cursor = encode_cursor(items[-1].updated_at.isoformat(), items[-1].incident_id)
    return IncidentPage(items=items, next_cursor=next_cursor)


@router.get("/incidents/{incident_id}", summary="One incident with its observations", responses=NOT_FOUND)
async def get_incident(
    incident_id: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00/]+$")],
    token: OperatorToken,
    conn: Conn,
    city: City,
) -> IncidentDetailOut:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS}, i.body FROM incidents i LEFT JOIN tickets t USING (incident_id)"
                          " WHERE i.incident_id = %s", (incident_id,))
        row = await cur.fetchone()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id!r}")
        await cur.execute(_OBSERVATIONS, (incident_id,))
        observations = [ObservationOut(**o, evidence_url=evidence_url(o.pop("evidence_path")))
                        for o in await cur.fetchall()]
    return IncidentDetailOut(**_named(row, city), observations=observations)


def resolve_evidence(data_dir: FsPath, path: str) -> FsPath:
    """The file ``path`` names inside ``data_dir``; refuses anything that leaves it."""
    root = data_dir.resolve()
    if "\x00" in path or FsPath(path).is_absolute():
        raise FileNotFoundError(path)
    target = (root / path).resolve()  # follows symlinks, so a link out of the tree is refused too
    if not target.is_relative_to(root) or target.suffix.lower() not in IMAGE_TYPES or not target.is_file():
        raise FileNotFoundError(path)
    return target


@router.get("/evidence/{path:path}", summary="A redacted evidence image", response_class=FileResponse,
            responses={**NOT_FOUND, 200: {"content": {"image/jpeg": {}}, "description": "The image"}})
async def evidence(path: str, token: OperatorToken, settings: SettingsDep) -> FileResponse:
    try:
        target = resolve_evidence(settings.data_dir, path)
    except (FileNotFoundError, OSError, ValueError) as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such evidence image") from err
    return FileResponse(target, media_type=IMAGE_TYPES[target.suffix.lower()],
                        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})
