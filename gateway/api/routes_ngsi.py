"""FIWARE exports of tickets: the Smart Data Models ``Alert`` per ticket, and a read-only
NGSI-LD view (``GET /ngsi-ld/v1/entities?type=Alert``) for context brokers' consumers.

The mapping itself is ``triage.cap.fiware_alert``; here each alert also gets its life
(``dateCreated``, ``dateModified``, and ``validTo`` = the resolution time once resolved, so a
consumer sees it is over) and a ``seeAlso`` link to the ticket's CAP message.

The NGSI-LD view follows ETSI GS CIM 009 "Query Entities" for what it supports: ``type`` and
``id`` (comma-separated lists), ``limit``/``offset`` paging, ``count=true`` (the
``NGSILD-Results-Count`` header) and ``options=keyValues``; normalized entities otherwise.
``Accept: application/ld+json`` puts the ``@context`` in each entity; ``application/json``
(the default) leaves it out and sends it as the JSON-LD ``Link`` header, as the standard says.
Errors use the NGSI-LD problem types. Both need an operator token, like reading tickets.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from psycopg.rows import dict_row
from pydantic import ValidationError

from gateway.api.deps import API_PREFIX, AUTH_RESPONSES, NOT_FOUND, Conn, OperatorToken, require_role
from gateway.api.params import is_storable_text
from gateway.security.auth import Role
from triage.cap import fiware_alert
from triage.models import Ticket

log = logging.getLogger(__name__)
router = APIRouter(responses=AUTH_RESPONSES, dependencies=[Depends(require_role(Role.OPERATOR))])

ALERT_CONTEXT = "https://raw.githubusercontent.com/smart-data-models/dataModel.Alert/master/context.jsonld"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
# The short type name and what the Alert context expands it to: a consumer may send either.
ALERT_TYPES = frozenset({"Alert", "https://smartdatamodels.org/dataModel.Alert/Alert"})
ID_PREFIX = "urn:ngsi-ld:Alert:"
LD_JSON, JSON = "application/ld+json", "application/json"
LINK = f'<{ALERT_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="{LD_JSON}"'
MAX_LIMIT, DEFAULT_LIMIT = 1000, 20
_DATES = ("dateIssued", "validFrom", "validTo", "dateCreated", "dateModified")
_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
_TicketId = Annotated[str, Path(min_length=1, max_length=140, pattern=r"^[^\x00/]+$")]


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ticket_alert(row: dict[str, Any], base: str) -> dict[str, Any] | None:
    """A ``tickets`` row as a key-values SDM ``Alert`` (``base``: this API's URL, for ``seeAlso``);
    None when its body is no valid ticket."""
    try:
        ticket = Ticket.model_validate({**row["body"], "status": row["status"]})
    except ValidationError:
        return None
    entity = fiware_alert(ticket, issued=row["created_at"])
    entity["dateCreated"] = _z(row["created_at"])
    entity["dateModified"] = _z(row["updated_at"])
    if row["status"] == "resolved":
        entity["validTo"] = _z(row["resolved_at"] or row["updated_at"])
    entity["seeAlso"] = [f"{base}{API_PREFIX}/tickets/{ticket.ticket_id}/cap"]
    return entity


def normalized(entity: dict[str, Any]) -> dict[str, Any]:
    """Key-values to NGSI-LD normalized form: Property, GeoProperty, Relationship, DateTime values."""
    out: dict[str, Any] = {"id": entity["id"], "type": entity["type"]}
    for key, value in entity.items():
        if key in ("id", "type", "@context"):
            continue
        if key == "location":
            out[key] = {"type": "GeoProperty", "value": value}
        elif key == "alertSource":
            out[key] = {"type": "Relationship", "object": value}
        elif key in _DATES:
            out[key] = {"type": "Property", "value": {"@type": "DateTime", "@value": value}}
        else:
            out[key] = {"type": "Property", "value": value}
    return out


_SELECT = "SELECT ticket_id, status, created_at, updated_at, resolved_at, body FROM tickets"


@router.get(API_PREFIX + "/tickets/{ticket_id}/alert", tags=["alerts"],
            summary="The ticket as a FIWARE Smart Data Models Alert (key-values)",
            responses={**NOT_FOUND, 409: {"description": "The ticket has no valid SPEC §4 body"}})
async def alert(request: Request, ticket_id: _TicketId, token: OperatorToken, conn: Conn) -> Response:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_SELECT + " WHERE ticket_id = %s", (ticket_id,))
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ticket_id!r}")
    entity = ticket_alert(row, str(request.base_url).rstrip("/"))
    if entity is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"ticket {ticket_id} has no valid SPEC §4 body to export")
    return Response(json.dumps(entity, ensure_ascii=False), media_type=JSON, headers={"Link": LINK})


class _NgsiError(Exception):
    """An NGSI-LD problem document (type, title, detail) and its status; ``entities`` answers it."""

    def __init__(self, code: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status_code = code
        self.problem = {"type": _ERRORS + kind, "title": kind, "detail": detail}


def _media(accept: str) -> str | None:
    """The representation to send for ``Accept``: ld+json or json, None when neither is acceptable."""
    best, best_q = None, 0.0
    for part in accept.split(",") if accept.strip() else ["*/*"]:
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        chosen = {LD_JSON: LD_JSON, JSON: JSON, "application/*": JSON, "*/*": JSON}.get(media.lower())
        if chosen and q > best_q:  # ties keep the first listed
            best, best_q = chosen, q
    return best


def _int(name: str, raw: str | None, default: int, high: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) > high:  # isdigit alone passes "²"
        raise _NgsiError(400, "BadRequestData", f"{name} must be an integer in [0, {high}]")
    return int(raw)


def _split(raw: str | None) -> list[str] | None:
    return [v.strip() for v in raw.split(",") if v.strip()] if raw is not None else None


@router.get("/ngsi-ld/v1/entities", tags=["alerts"],
            summary="NGSI-LD Query Entities, read-only: tickets as SDM Alert entities",
            responses={200: {"content": {JSON: {}, LD_JSON: {}}, "description": "Array of entities"},
                       400: {"description": "NGSI-LD BadRequestData"}, 406: {"description": "NotAcceptable"}})
async def entities(
    request: Request, token: OperatorToken, conn: Conn,
    # Bounded so that the longest query, percent-encoded (up to 12 bytes a character), stays
    # under the HTTP server's 16 KiB request-line limit: past it the connection is reset.
    type_: Annotated[str | None, Query(alias="type", max_length=200, description="Entity types, comma-separated")]
    = None,
    id_: Annotated[str | None, Query(alias="id", max_length=600, description="Entity ids, comma-separated")] = None,
    limit: Annotated[str | None, Query(max_length=10, description=f"0-{MAX_LIMIT}, default {DEFAULT_LIMIT}")] = None,
    offset: Annotated[str | None, Query(max_length=10)] = None,
    count: Annotated[str | None, Query(max_length=5, description="true: NGSILD-Results-Count header")] = None,
    options: Annotated[str | None, Query(max_length=100, description="keyValues for simplified entities")] = None,
) -> Response:
    try:
        media = _media(request.headers.get("accept", ""))
        if media is None:
            raise _NgsiError(406, "NotAcceptable", f"this endpoint serves {JSON} or {LD_JSON}")
        types, ids = _split(type_), _split(id_)
        if not all(is_storable_text(v) for v in (types or []) + (ids or [])):
            raise _NgsiError(400, "BadRequestData", "type and id must be valid UTF-8 without NUL")
        if types is None and ids is None:
            raise _NgsiError(400, "BadRequestData", "give type or id (e.g. type=Alert)")
        n, skip = _int("limit", limit, DEFAULT_LIMIT, MAX_LIMIT), _int("offset", offset, 0, 10**9)
        if count not in (None, "true", "false"):
            raise _NgsiError(400, "BadRequestData", "count must be true or false")
        key_values = "keyValues" in (_split(options) or [])
    except _NgsiError as err:
        return Response(json.dumps(err.problem), status_code=err.status_code, media_type=JSON)
    if types is not None and not ALERT_TYPES.intersection(types):
        rows: list[dict[str, Any]] = []  # no entities of another type live here: an empty answer
        total = 0
    else:
        # Only Alert ids can match; an id of another shape matches nothing.
        tickets = [i.removeprefix(ID_PREFIX) for i in ids if i.startswith(ID_PREFIX)] if ids is not None else None
        where = " WHERE (%(ids)s::text[] IS NULL OR ticket_id = ANY(%(ids)s))"
        params = {"ids": tickets, "limit": n, "offset": skip}
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_SELECT + where + " ORDER BY created_at DESC, ticket_id LIMIT %(limit)s"
                              " OFFSET %(offset)s", params)
            rows = await cur.fetchall()
            total = -1
            if count == "true":
                await cur.execute("SELECT count(*) AS n FROM tickets" + where, params)
                total = int((await cur.fetchone() or {"n": 0})["n"])
    out, base = [], str(request.base_url).rstrip("/")
    for row in rows:
        entity = ticket_alert(row, base)
        if entity is None:
            log.warning("ticket %s skipped in the NGSI-LD view: no valid SPEC §4 body", row["ticket_id"])
            continue
        entity = entity if key_values else normalized(entity)
        if media == LD_JSON:
            entity["@context"] = [ALERT_CONTEXT, CORE_CONTEXT]
        out.append(entity)
    headers = {"Link": LINK} if media == JSON else {}
    if count == "true":
        headers["NGSILD-Results-Count"] = str(total)
    return Response(json.dumps(out, ensure_ascii=False), media_type=media, headers=headers)
