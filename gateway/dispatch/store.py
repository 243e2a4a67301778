"""SQL for tasks (migration 006) and the ticket changes dispatch makes, on a sync connection.

Every ticket change writes one ``ticket_history`` row (actor ``dispatch``) and a feed NOTIFY,
in the caller's transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gateway.dispatch.planner import Candidate
from gateway.store.observations import FEED_CHANNEL

ACTOR = "dispatch"
LIVE = ("sent", "acked", "in_progress")
OPEN_TICKET = ("open", "acknowledged", "assigned", "escalated")


def candidates(conn: psycopg.Connection[Any], kind: str) -> list[Candidate]:
    rows = conn.execute(
        "SELECT d.device_id, d.district, d.kind, d.state, d.battery_pct, d.lat, d.lon,"
        " EXISTS (SELECT 1 FROM tasks t WHERE t.device_id = d.device_id"
        "         AND t.status IN ('sent', 'acked', 'in_progress')) AS has_task"
        " FROM devices d WHERE d.kind = %s", (kind,)).fetchall()
    return [Candidate(*r) for r in rows]


def ticket_target(conn: psycopg.Connection[Any], ticket_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT t.ticket_id, t.district, t.category, t.status, t.agency, i.lat, i.lon"
            " FROM tickets t JOIN incidents i USING (incident_id) WHERE t.ticket_id = %s",
            (ticket_id,)).fetchone()


def task_count(conn: psycopg.Connection[Any], ticket_id: str) -> int:
    row = conn.execute("SELECT count(*) FROM tasks WHERE ticket_id = %s", (ticket_id,)).fetchone()
    return int(row[0]) if row else 0


def tried_devices(conn: psycopg.Connection[Any], ticket_id: str) -> frozenset[str]:
    rows = conn.execute("SELECT device_id FROM tasks WHERE ticket_id = %s AND device_id IS NOT NULL"
                        " AND status IN ('failed', 'expired', 'cancelled')", (ticket_id,)).fetchall()
    return frozenset(r[0] for r in rows)


def insert_task(conn: psycopg.Connection[Any], *, task_id: str, ticket_id: str, kind: str, action: str,
                lat: float, lon: float, deadline: datetime, now: datetime,
                approved_by: str | None) -> bool:
    """A proposal; False when the ticket has a live task already (the unique index said no)."""
    cur = conn.execute(
        "INSERT INTO tasks (task_id, ticket_id, kind, action, lat, lon, status, deadline, approved_by,"
        " approved_at, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, 'proposed', %s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (task_id, ticket_id, kind, action, lat, lon, deadline, approved_by,
         now if approved_by else None, now, now))
    return cur.rowcount == 1


def approved_proposals(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM tasks WHERE status = 'proposed' AND approved_by IS NOT NULL"
                           " ORDER BY created_at FOR UPDATE SKIP LOCKED").fetchall()


def live_tasks(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT t.*, d.state AS device_state FROM tasks t LEFT JOIN devices d USING (device_id)"
            " WHERE t.status IN ('sent', 'acked', 'in_progress') ORDER BY t.created_at"
            " FOR UPDATE OF t SKIP LOCKED").fetchall()


def lock_task(conn: psycopg.Connection[Any], task_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM tasks WHERE task_id = %s FOR UPDATE", (task_id,)).fetchone()


def update_task(conn: psycopg.Connection[Any], task_id: str, **fields: Any) -> None:
    sets = ", ".join(f"{k} = %({k})s" for k in fields)
    conn.execute(f"UPDATE tasks SET {sets} WHERE task_id = %(task_id)s",  # type: ignore[arg-type]
                 {**fields, "task_id": task_id})


def history(conn: psycopg.Connection[Any], ticket_id: str, action: str, details: dict[str, Any],
            now: datetime) -> None:
    conn.execute("INSERT INTO ticket_history (ticket_id, ts, actor, action, details) VALUES (%s, %s, %s, %s, %s)",
                 (ticket_id, now, ACTOR, action, Jsonb(details)))
    payload = json.dumps({"type": "ticket", "id": ticket_id, "ts": now.isoformat(),
                          "data": {"action": action, "actor": ACTOR, **details}}, default=str)
    conn.execute("SELECT pg_notify(%s, %s)", (FEED_CHANNEL, payload[:7900]))


def set_ticket(conn: psycopg.Connection[Any], ticket_id: str, status: str, now: datetime,
               *, assigned_to: str | None = None) -> dict[str, Any] | None:
    """Move an unresolved ticket (or, for 'open', a resolved one) to ``status``; its new body."""
    allowed = ["resolved"] if status == "open" else list(OPEN_TICKET)
    extra = {"resolved": ", resolved_at = %(now)s, resolved_by = 'dispatch'",
             "open": ", resolved_at = NULL, resolved_by = NULL",
             "assigned": ", assigned_to = %(assigned_to)s,"
                         " acknowledged_at = coalesce(acknowledged_at, %(now)s),"
                         " acknowledged_by = coalesce(acknowledged_by, 'dispatch')"}.get(status, "")
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"UPDATE tickets SET status = %(status)s, updated_at = %(now)s{extra},"  # type: ignore[arg-type]
            " body = body || jsonb_build_object('status', %(status)s::text)"
            " WHERE ticket_id = %(ticket_id)s AND status = ANY(%(allowed)s) RETURNING status, body",
            {"status": status, "now": now, "assigned_to": assigned_to, "ticket_id": ticket_id,
             "allowed": allowed}).fetchone()
    return row["body"] if row else None
