"""SQL for subscriptions and deliveries (migrations 006 and 008).

Deliveries are fed from ``ticket_history``, so every way a ticket is created, escalated or
resolved (triage, SLA upkeep, dispatch, a manager in the API) reaches the agencies. The unique
(subscription, ticket, event, step) key makes a re-read or a repeat a no-op. A ``remind`` row
(the escalation ladder's step N, written by the triage service's upkeep) reaches the agencies
it names: ``duty_office`` is the ticket's own agency.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

CURSOR = "ticket_history"
# ticket_history action -> webhook event
EVENTS = {"created": "created", "escalate": "escalated", "remind": "reminder", "resolve": "resolved"}

ENQUEUE_SQL = """
INSERT INTO webhook_deliveries (subscription_id, ticket_id, event, step, payload, next_attempt_at)
SELECT s.id, h.ticket_id, e.event, COALESCE((h.details ->> 'step')::int, 0),
       jsonb_build_object('event', e.event, 'ticket_id', h.ticket_id, 'ts', h.ts, 'actor', h.actor,
                          'step', (h.details ->> 'step')::int, 'after', h.details ->> 'after',
                          'ticket', t.body || jsonb_build_object('status', t.status)),
       now()
FROM ticket_history h
JOIN (VALUES ('created', 'created'), ('escalate', 'escalated'), ('remind', 'reminder'), ('resolve', 'resolved'))
  AS e (action, event) ON e.action = h.action
JOIN tickets t ON t.ticket_id = h.ticket_id
JOIN webhook_subscriptions s ON s.active AND e.event = ANY (s.events) AND h.ts >= s.created_at
 AND CASE WHEN e.event = 'reminder'
          THEN s.agency IN (SELECT CASE WHEN n = 'duty_office' THEN t.agency ELSE n END
                            FROM jsonb_array_elements_text(h.details -> 'notify') AS n)
          ELSE s.agency = t.agency END
WHERE h.id > %(after)s
ON CONFLICT (subscription_id, ticket_id, event, step) DO NOTHING
"""


def enqueue(conn: psycopg.Connection[Any], now: datetime, reread_s: float) -> int:
    """Queue deliveries for new history rows; the cursor only passes rows older than ``reread_s``
    (ids are assigned before commit, so a late commit can appear below the newest id seen)."""
    row = conn.execute("SELECT last_id FROM webhook_cursor WHERE name = %s FOR UPDATE", (CURSOR,)).fetchone()
    after = int(row[0]) if row else 0
    n = conn.execute(ENQUEUE_SQL, {"after": after}).rowcount
    settled = conn.execute("SELECT max(id) FROM ticket_history WHERE id > %s AND ts < %s",
                           (after, now - timedelta(seconds=reread_s))).fetchone()
    if settled and settled[0] is not None:
        conn.execute("INSERT INTO webhook_cursor (name, last_id) VALUES (%s, %s)"
                     " ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id", (CURSOR, settled[0]))
    return max(n, 0)


def claim_due(conn: psycopg.Connection[Any], limit: int) -> list[dict[str, Any]]:
    """Due deliveries with their subscription, locked so a second gateway skips them."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT d.id, d.subscription_id, d.ticket_id, d.event, d.step, d.payload, d.attempts, s.url, s.secret,"
            " s.kind, s.lang, t.status AS ticket_status"
            " FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id"
            " LEFT JOIN tickets t ON t.ticket_id = d.ticket_id"
            " WHERE d.status = 'pending' AND d.next_attempt_at <= now()"
            " ORDER BY d.next_attempt_at LIMIT %s FOR UPDATE OF d SKIP LOCKED", (limit,)).fetchall()


def delivered(conn: psycopg.Connection[Any], delivery_id: int, code: int, now: datetime) -> None:
    conn.execute("UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = %s,"
                 " delivered_at = %s, last_error = NULL WHERE id = %s", (code, now, delivery_id))


def failed(conn: psycopg.Connection[Any], delivery_id: int, attempts: int, code: int | None, error: str,
           next_at: datetime, give_up: bool) -> None:
    conn.execute("UPDATE webhook_deliveries SET attempts = %s, last_status = %s, last_error = %s,"
                 " next_attempt_at = %s, status = %s WHERE id = %s",
                 (attempts, code, error[:500], next_at, "failed" if give_up else "pending", delivery_id))


def cancelled(conn: psycopg.Connection[Any], delivery_id: int, reason: str) -> None:
    conn.execute("UPDATE webhook_deliveries SET status = 'cancelled', last_error = %s WHERE id = %s",
                 (reason[:500], delivery_id))
