"""Ticket queue queries and the human actions on tickets (migration 005).

Every action runs in one transaction: the ticket row is locked, the transition checked,
the columns and the SPEC §4 ``body`` updated, one ``ticket_history`` row written (who, when,
what) and a ``NOTIFY urbanops_feed`` queued, which PostgreSQL delivers only on commit — so a
live-feed client never sees a change that was rolled back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gateway.store.observations import FEED_CHANNEL

# Most severe first: the queue's primary sort key is the position in this list.
SEVERITY_RANK = ("critical", "high", "medium", "low", "informational")
RANK_SQL = "array_position(ARRAY['critical','high','medium','low','informational'], t.severity)"
# A ticket without an SLA sorts after every ticket with one.
SLA_SQL = "COALESCE(t.sla_due, '9999-12-31T00:00:00Z'::timestamptz)"
ACTIVE = ("open", "acknowledged", "assigned")

TICKET_COLUMNS = (
    "t.ticket_id, t.incident_id, t.district, t.category, t.severity, t.agency, t.status,"
    " t.needs_review, t.sla_due, t.created_at, t.updated_at, t.assigned_to, t.acknowledged_at,"
    " t.acknowledged_by, t.resolved_at, t.resolved_by, t.overrides,"
    f" {RANK_SQL} AS severity_rank,"
    " (t.sla_due IS NOT NULL AND t.sla_due < now() AND t.status <> 'resolved') AS overdue,"
    " t.body->>'summary' AS summary, i.lat, i.lon"
)


class Action(StrEnum):
    ACK = "ack"
    ASSIGN = "assign"
    RESOLVE = "resolve"
    REOPEN = "reopen"


# From which statuses each action is allowed, and the status it leads to.
TRANSITIONS: dict[Action, tuple[frozenset[str], str]] = {
    Action.ACK: (frozenset({"open"}), "acknowledged"),
    Action.ASSIGN: (frozenset({"open", "acknowledged", "assigned"}), "assigned"),
    Action.RESOLVE: (frozenset({"open", "acknowledged", "assigned"}), "resolved"),
    Action.REOPEN: (frozenset({"resolved"}), "open"),
}
OVERRIDABLE = ("severity", "category", "agency")


class TicketNotFound(LookupError):
    pass


class InvalidTransition(ValueError):
    """The action is not allowed in the ticket's current status (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class TicketFilter:
    status: str | None = None  # None: every active (not resolved) ticket; "all": every ticket
    agency: str | None = None
    severity: str | None = None
    district: str | None = None


def now_utc() -> datetime:
    return datetime.now(UTC)


def feed_payload(kind: str, ident: str, data: dict[str, Any], ts: datetime | None = None) -> str:
    """The JSON every ``urbanops_feed`` NOTIFY carries (kept well under PostgreSQL's 8000 bytes)."""
    stamp = (ts or now_utc()).astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": kind, "id": ident, "ts": stamp, "data": data}, default=str)


async def notify(cur: psycopg.AsyncCursor[Any], kind: str, ident: str, data: dict[str, Any]) -> None:
    await cur.execute("SELECT pg_notify(%s, %s)", (FEED_CHANNEL, feed_payload(kind, ident, data)))


async def list_tickets(conn: psycopg.AsyncConnection[Any], flt: TicketFilter, *, limit: int,
                       after: tuple[int, datetime, str] | None = None) -> list[dict[str, Any]]:
    """The queue: most severe first, then the earliest SLA; keyset-paged on those keys."""
    where = ["true"]
    params: dict[str, Any] = {"limit": limit}
    if flt.status is None:
        where.append("t.status <> 'resolved'")
    elif flt.status != "all":
        where.append("t.status = %(status)s")
        params["status"] = flt.status
    for name in ("agency", "severity", "district"):
        if (value := getattr(flt, name)) is not None:
            where.append(f"t.{name} = %({name})s")
            params[name] = value
    if after is not None:
        where.append(f"({RANK_SQL}, {SLA_SQL}, t.ticket_id) > (%(a_rank)s, %(a_sla)s, %(a_id)s)")
        params.update(a_rank=after[0], a_sla=after[1], a_id=after[2])
    sql = (f"SELECT {TICKET_COLUMNS}, {SLA_SQL} AS sla_key FROM tickets t"
           " JOIN incidents i USING (incident_id)"
           f" WHERE {' AND '.join(where)} ORDER BY {RANK_SQL}, {SLA_SQL}, t.ticket_id LIMIT %(limit)s")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)  # type: ignore[arg-type]  # built from fixed fragments
        return await cur.fetchall()


async def get_ticket(conn: psycopg.AsyncConnection[Any], ticket_id: str) -> dict[str, Any]:
    """One ticket with its body and its history, oldest action first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {TICKET_COLUMNS}, t.body FROM tickets t JOIN incidents i USING (incident_id)"
                          " WHERE t.ticket_id = %s", (ticket_id,))  # type: ignore[arg-type]
        row = await cur.fetchone()
        if row is None:
            raise TicketNotFound(ticket_id)
        await cur.execute("SELECT id, ts, actor, action, details FROM ticket_history"
                          " WHERE ticket_id = %s ORDER BY ts, id", (ticket_id,))
        row["history"] = await cur.fetchall()
    return row


async def _lock(cur: psycopg.AsyncCursor[Any], ticket_id: str) -> dict[str, Any]:
    await cur.execute("SELECT t.*, i.lat, i.lon FROM tickets t JOIN incidents i USING (incident_id)"
                      " WHERE t.ticket_id = %s FOR UPDATE OF t", (ticket_id,))
    row = await cur.fetchone()
    if row is None:
        raise TicketNotFound(ticket_id)
    assert isinstance(row, dict)
    return row


async def _record(cur: psycopg.AsyncCursor[Any], row: dict[str, Any], actor: str, action: str,
                  details: dict[str, Any], at: datetime) -> None:
    await cur.execute("INSERT INTO ticket_history (ticket_id, ts, actor, action, details)"
                      " VALUES (%s, %s, %s, %s, %s)", (row["ticket_id"], at, actor, action, Jsonb(details)))
    await notify(cur, "ticket", row["ticket_id"], {
        "action": action, "actor": actor, "status": row["status"], "district": row["district"],
        "category": row["category"], "severity": row["severity"], "agency": row["agency"],
        "incident_id": row["incident_id"], "lat": row["lat"], "lon": row["lon"],
    })


async def apply_action(conn: psycopg.AsyncConnection[Any], ticket_id: str, action: Action, *, actor: str,
                       assignee: str | None = None, note: str | None = None) -> None:
    """Move the ticket through ``TRANSITIONS``; raise ``InvalidTransition`` if not allowed."""
    allowed, target = TRANSITIONS[action]
    at = now_utc()
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = await _lock(cur, ticket_id)
        if row["status"] not in allowed:
            raise InvalidTransition(
                f"cannot {action.value} ticket {ticket_id}: it is {row['status']}"
                f" (allowed from {', '.join(sorted(allowed))})")
        sets = {"status": target, "updated_at": at}
        if action is Action.ACK:
            sets |= {"acknowledged_at": at, "acknowledged_by": actor}
        elif action is Action.ASSIGN:
            if not assignee:
                raise ValueError("assign needs an assignee")
            sets |= {"assigned_to": assignee}
            if row["acknowledged_at"] is None:  # assigning implies it was seen
                sets |= {"acknowledged_at": at, "acknowledged_by": actor}
        elif action is Action.RESOLVE:
            sets |= {"resolved_at": at, "resolved_by": actor}
        else:  # reopen: the resolution no longer stands
            sets |= {"resolved_at": None, "resolved_by": None}
        assignments = ", ".join(f"{k} = %({k})s" for k in sets)
        sql = (f"UPDATE tickets SET {assignments}, body = body || jsonb_build_object('status', %(status)s::text)"
               " WHERE ticket_id = %(ticket_id)s")
        await cur.execute(sql, {**sets, "ticket_id": ticket_id})  # type: ignore[arg-type]
        details: dict[str, Any] = {"from": row["status"], "to": target}
        if assignee:
            details["assignee"] = assignee
        if note:
            details["note"] = note
        row["status"] = target
        await _record(cur, row, actor, action.value, details, at)


async def add_note(conn: psycopg.AsyncConnection[Any], ticket_id: str, *, actor: str, note: str) -> None:
    at = now_utc()
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = await _lock(cur, ticket_id)
        await cur.execute("UPDATE tickets SET updated_at = %s WHERE ticket_id = %s", (at, ticket_id))
        await _record(cur, row, actor, "note", {"note": note}, at)


async def override(conn: psycopg.AsyncConnection[Any], ticket_id: str, *, actor: str,
                   fields: dict[str, str], reason: str) -> dict[str, Any]:
    """Set fields the AI chose; ``overrides`` keeps ``{field: value}`` so triage never reverts them.
    Returns the ``{field: [old, new]}`` changes (empty when nothing changed)."""
    unknown = set(fields) - set(OVERRIDABLE)
    if unknown or not fields:
        raise ValueError(f"override one or more of {', '.join(OVERRIDABLE)}")
    at = now_utc()
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = await _lock(cur, ticket_id)
        changes = {k: [row[k], v] for k, v in fields.items() if row[k] != v}
        await cur.execute(
            "UPDATE tickets SET severity = %(severity)s, category = %(category)s, agency = %(agency)s,"
            " updated_at = %(at)s, overrides = overrides || %(fields)s, body = body || %(fields)s"
            " WHERE ticket_id = %(ticket_id)s",
            {**{k: fields.get(k, row[k]) for k in OVERRIDABLE}, "at": at, "fields": Jsonb(fields),
             "ticket_id": ticket_id})
        row.update(fields)
        await _record(cur, row, actor, "override", {"changes": changes, "reason": reason}, at)
    return changes
