"""Standard exports for other city systems: CAP 1.2 per ticket, an Atom feed of active alerts,
a GeoJSON feed of open incidents, and the map layers (district outlines, zones) the dashboard draws.

CAP message type follows the ticket's life: ``Alert`` (sent = ticket creation, so the identifier
is stable), ``Update`` after a person or triage changed it, ``Cancel`` once resolved; the later two
``reference`` the first alert.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from psycopg.rows import dict_row
from pydantic import ValidationError
from shapely.geometry import mapping

from citypack import CityPack
from gateway.api.deps import API_PREFIX, AUTH_RESPONSES, NOT_FOUND, City, Conn, OperatorToken, require_role
from gateway.security.auth import Role
from gateway.store.tickets import RANK_SQL
from triage.cap import cap_time, cap_xml
from triage.models import Ticket

log = logging.getLogger(__name__)
router = APIRouter(prefix=API_PREFIX, tags=["alerts"], responses=AUTH_RESPONSES,
                   dependencies=[Depends(require_role(Role.OPERATOR))])

SENDER = "triage@urbanops.local"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA = "application/cap+xml"
GEOJSON_MEDIA = "application/geo+json"


def _ticket_model(row: dict[str, Any]) -> Ticket:
    body = {**row["body"], "status": row["status"]}
    try:
        return Ticket.model_validate(body)
    except ValidationError as err:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"ticket {row['ticket_id']} has no valid SPEC §4 body to export") from err


def ticket_cap(row: dict[str, Any]) -> str:
    ticket = _ticket_model(row)
    created = row["created_at"]
    first = f"{SENDER},{ticket.ticket_id}.{created.astimezone(UTC):%Y%m%dT%H%M%S},{cap_time(created)}"
    if row["status"] == "resolved":
        return cap_xml(ticket, sent=row["resolved_at"] or row["updated_at"], sender=SENDER, msg_type="Cancel",
                       references=first)
    if row["updated_at"] > row["created_at"]:
        return cap_xml(ticket, sent=row["updated_at"], sender=SENDER, msg_type="Update", references=first)
    return cap_xml(ticket, sent=row["created_at"], sender=SENDER)


@router.get("/tickets/{ticket_id}/cap", summary="The ticket as a CAP 1.2 alert", response_class=Response,
            responses={**NOT_FOUND, 200: {"content": {CAP_MEDIA: {}}, "description": "CAP 1.2 XML"}})
async def cap(ticket_id: Annotated[str, Path(min_length=1, max_length=140, pattern=r"^[^\x00/]+$")],
              token: OperatorToken, conn: Conn) -> Response:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT ticket_id, status, created_at, updated_at, resolved_at, body FROM tickets"
                          " WHERE ticket_id = %s", (ticket_id,))
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ticket_id!r}")
    return Response(ticket_cap(row), media_type=CAP_MEDIA)


def _atom(rows: list[dict[str, Any]], base: str, now: datetime) -> str:
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        el.text = text
        return el

    sub(feed, "id", "urn:urbanops:alerts:active")
    sub(feed, "title", "urbanops active alerts")
    updated = max((r["updated_at"] for r in rows), default=now)
    sub(feed, "updated", updated.astimezone(UTC).isoformat())
    sub(sub(feed, "author"), "name", "urbanops")
    sub(feed, "link", rel="self", href=f"{base}{API_PREFIX}/alerts.atom")
    for r in rows:
        entry = sub(feed, "entry")
        sub(entry, "id", f"urn:urbanops:ticket:{r['ticket_id']}")
        title = f"[{r['severity']}] {r['category']} in {r['district'] or 'unknown district'}"
        sub(entry, "title", title)
        sub(entry, "updated", r["updated_at"].astimezone(UTC).isoformat())
        sub(entry, "published", r["created_at"].astimezone(UTC).isoformat())
        sub(entry, "summary", r["summary"] or title)
        sub(entry, "category", term=r["category"])
        sub(entry, "link", rel="alternate", type=CAP_MEDIA, href=f"{base}{API_PREFIX}/tickets/{r['ticket_id']}/cap")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(feed, encoding="unicode")


@router.get("/alerts.atom", summary="Atom feed of active (unresolved) alerts, each linking its CAP",
            response_class=Response, responses={200: {"content": {"application/atom+xml": {}}, "description": "Atom"}})
async def alerts_atom(request: Request, token: OperatorToken, conn: Conn) -> Response:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT t.ticket_id, t.district, t.category, t.severity, t.created_at, t.updated_at,"
                          " t.body->>'summary' AS summary FROM tickets t WHERE t.status <> 'resolved'"
                          f" ORDER BY {RANK_SQL}, t.updated_at DESC LIMIT 500")
        rows = await cur.fetchall()
    base = str(request.base_url).rstrip("/")
    return Response(_atom(rows, base, datetime.now(UTC)), media_type="application/atom+xml")


@router.get("/incidents.geojson", summary="GeoJSON FeatureCollection of open incidents", response_class=Response,
            responses={200: {"content": {GEOJSON_MEDIA: {}}, "description": "GeoJSON"}})
async def incidents_geojson(token: OperatorToken, conn: Conn) -> Response:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT i.incident_id, i.district, i.category, i.severity, i.opened_at, i.updated_at,"
                          " i.lat, i.lon, t.ticket_id, t.status AS ticket_status, t.agency"
                          " FROM incidents i LEFT JOIN tickets t USING (incident_id)"
                          " WHERE i.status = 'open' AND i.lat IS NOT NULL AND i.lon IS NOT NULL"
                          " ORDER BY i.updated_at DESC LIMIT 5000")
        rows = await cur.fetchall()
    features = [{
        "type": "Feature", "id": r["incident_id"],
        "geometry": {"type": "Point", "coordinates": [r.pop("lon"), r.pop("lat")]},
        "properties": {k: v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v for k, v in r.items()},
    } for r in rows]
    return Response(json.dumps({"type": "FeatureCollection", "features": features}), media_type=GEOJSON_MEDIA)


def map_features(pack: CityPack) -> list[dict[str, Any]]:
    """The city pack's district outlines, named places and streets, and zones, as one layer set."""
    out: list[dict[str, Any]] = []
    for d in pack.districts.values():
        out.append({"type": "Feature", "id": d.id, "geometry": mapping(d.outline),
                    "properties": {"kind": "district", "name": d.id, "name_zh": d.name_zh, "name_en": d.name_en}})
    for p in pack.places:
        out.append({"type": "Feature", "geometry": mapping(p.geometry),
                    "properties": {"kind": p.kind, "name": p.name_en, "name_zh": p.name_zh, "name_en": p.name_en,
                                   "district": p.district, "tags": list(p.tags)}})
    for z in pack.zones:
        props: dict[str, Any] = z.feature.get("properties") or {}
        out.append({**z.feature,
                    "properties": {**props, "kind": "zone", "zone_kind": z.kind, "source": "zones.geojson"}})
    return out


@router.get("/map/layers.geojson", summary="Map layers: district outlines, named places and zones",
            response_class=Response, responses={200: {"content": {GEOJSON_MEDIA: {}}, "description": "GeoJSON"}})
async def map_layers(token: OperatorToken, city: City) -> Response:
    pack = city.pack
    collection = {"type": "FeatureCollection", "features": map_features(pack),
                  "city": {"id": pack.id, "name_zh": pack.config.name.zh, "name_en": pack.config.name.en,
                           "approximate": pack.config.approximate,
                           "notice": pack.config.notice.model_dump() if pack.config.notice else None}}
    return Response(json.dumps(collection), media_type=GEOJSON_MEDIA)
