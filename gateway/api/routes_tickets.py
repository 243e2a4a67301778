"""``/api/v1/tickets``: the emergency managers' queue, ticket detail with history, and actions.

Reading needs an operator token; every change (ack, assign, resolve, reopen, note, override)
needs a manager token, whose name is recorded as the actor in ``ticket_history``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.api.deps import (
    API_PREFIX,
    AUTH_RESPONSES,
    NOT_FOUND,
    Conn,
    ErrorOut,
    ManagerToken,
    OperatorToken,
    require_role,
)
from gateway.api.params import CursorError, decode_cursor, encode_cursor, parse_rfc3339, query_error
from gateway.security.auth import Role
from gateway.store import tickets as store
from triage.models import Agency, Category, Severity

router = APIRouter(
    prefix=API_PREFIX + "/tickets",
    tags=["tickets"],
    responses=AUTH_RESPONSES,
    dependencies=[Depends(require_role(Role.OPERATOR))],
)

TicketId = Annotated[str, Path(min_length=1, max_length=140, pattern=r"^[^\x00/]+$", examples=["tkt-inc-0001"])]
CONFLICT: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND, 409: {"model": ErrorOut, "description": "Not allowed in the ticket's current status"}}
StatusFilter = Literal["active", "all", "open", "acknowledged", "assigned", "resolved"]
_Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*\S[^\x00]*$")]


class TicketOut(BaseModel):
    ticket_id: str
    incident_id: str
    district: str | None
    category: str
    severity: str
    agency: str
    status: str
    needs_review: bool
    summary: str | None
    sla_due: datetime | None
    overdue: bool = Field(description="SLA passed and the ticket is not resolved")
    created_at: datetime
    updated_at: datetime
    assigned_to: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    overrides: dict[str, Any] = Field(description="Fields a person set, as {field: value}")
    lat: float | None
    lon: float | None


class HistoryOut(BaseModel):
    id: int
    ts: datetime
    actor: str = Field(examples=["duty manager"])
    action: str = Field(examples=["ack"])
    details: dict[str, Any]


class TicketDetailOut(TicketOut):
    body: dict[str, Any] = Field(description="The ticket as SPEC §4 defines it, overrides applied")
    history: list[HistoryOut]


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None = Field(examples=[None])


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"assignee": "Futian fire station 2", "note": "engine 21 en route"}]})

    assignee: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*\S[^\x00]*$")] | None = None
    note: _Text | None = None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "caller re-confirmed"}]})

    note: _Text


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"severity": "critical", "reason": "school nearby, children evacuating"}]})

    severity: Severity | None = None
    category: Category | None = None
    agency: Agency | None = None
    reason: _Text

    @model_validator(mode="after")
    def _some_field(self) -> OverrideIn:
        if self.severity is None and self.category is None and self.agency is None:
            raise ValueError("override at least one of severity, category, agency")
        return self


class OverrideOut(BaseModel):
    changes: dict[str, list[str]] = Field(examples=[{"severity": ["high", "critical"]}])
    ticket: TicketDetailOut


@router.get("", summary="The ticket queue: most severe first, then earliest SLA")
async def list_tickets(
    token: OperatorToken,
    conn: Conn,
    status_: Annotated[StatusFilter, Query(alias="status", description="`active` (default): not resolved")] = "active",
    agency: Agency | None = None,
    severity: Severity | None = None,
    district: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> TicketPage:
    after = None
    if cursor is not None:
        try:
            rank, sla, last_id = decode_cursor(cursor, (int, str, str))
            after = (rank, parse_rfc3339(sla), last_id)
        except (CursorError, ValueError) as err:
            raise query_error("cursor", "cursor is not one this API issued", cursor) from err
    flt = store.TicketFilter(
        status=None if status_ == "active" else status_,
        agency=agency.value if agency else None, severity=severity.value if severity else None, district=district)
    rows = await store.list_tickets(conn, flt, limit=limit, after=after)
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1]
        next_cursor = encode_cursor(last["severity_rank"], last["sla_key"].isoformat(), last["ticket_id"])
    return TicketPage(items=[TicketOut(**r) for r in rows], next_cursor=next_cursor)


async def _detail(conn: Any, ticket_id: str) -> TicketDetailOut:
    try:
        row = await store.get_ticket(conn, ticket_id)
    except store.TicketNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ticket_id!r}") from err
    return TicketDetailOut(**row)


@router.get("/{ticket_id}", summary="One ticket with its history", responses=NOT_FOUND)
async def get_ticket(ticket_id: TicketId, token: OperatorToken, conn: Conn) -> TicketDetailOut:
    return await _detail(conn, ticket_id)


async def _act(conn: Any, ticket_id: str, action: store.Action, actor: str, body: ActionIn) -> TicketDetailOut:
    if action is store.Action.ASSIGN and not body.assignee:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "assign needs an assignee")
    try:
        await store.apply_action(conn, ticket_id, action, actor=actor, assignee=body.assignee, note=body.note)
    except store.TicketNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ticket_id!r}") from err
    except store.InvalidTransition as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    return await _detail(conn, ticket_id)


@router.post("/{ticket_id}/ack", summary="Acknowledge (open → acknowledged)", responses=CONFLICT)
async def ack(ticket_id: TicketId, token: ManagerToken, conn: Conn, body: ActionIn | None = None) -> TicketDetailOut:
    return await _act(conn, ticket_id, store.Action.ACK, token.name, body or ActionIn())


@router.post("/{ticket_id}/assign", summary="Assign to a unit (needs `assignee`)", responses=CONFLICT)
async def assign(ticket_id: TicketId, token: ManagerToken, conn: Conn, body: ActionIn) -> TicketDetailOut:
    return await _act(conn, ticket_id, store.Action.ASSIGN, token.name, body)


@router.post("/{ticket_id}/resolve", summary="Resolve", responses=CONFLICT)
async def resolve(ticket_id: TicketId, token: ManagerToken, conn: Conn,
                  body: ActionIn | None = None) -> TicketDetailOut:
    return await _act(conn, ticket_id, store.Action.RESOLVE, token.name, body or ActionIn())


@router.post("/{ticket_id}/reopen", summary="Reopen a resolved ticket", responses=CONFLICT)
async def reopen(ticket_id: TicketId, token: ManagerToken, conn: Conn,
                 body: ActionIn | None = None) -> TicketDetailOut:
    return await _act(conn, ticket_id, store.Action.REOPEN, token.name, body or ActionIn())


@router.post("/{ticket_id}/note", summary="Add a note to the history", responses=NOT_FOUND)
async def note(ticket_id: TicketId, token: ManagerToken, conn: Conn, body: NoteIn) -> TicketDetailOut:
    try:
        await store.add_note(conn, ticket_id, actor=token.name, note=body.note)
    except store.TicketNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ticket_id!r}") from err
    return await _detail(conn, ticket_id)


@router.post("/{ticket_id}/override", summary="Override severity, category or agency, with a reason",
             responses=NOT_FOUND)
async def override(ticket_id: TicketId, token: ManagerToken, conn: Conn, body: OverrideIn) -> OverrideOut:
    fields = {k: v.value for k in store.OVERRIDABLE if (v := getattr(body, k)) is not None}
    try:
        changes = await store.override(conn, ticket_id, actor=token.name, fields=fields, reason=body.reason)
    except store.TicketNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ticket_id!r}") from err
    return OverrideOut(changes=changes, ticket=await _detail(conn, ticket_id))
