"""SQL for incidents and tickets written by the triage service (migration 005)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gateway.store.observations import FEED_CHANNEL
from gateway.triage_svc.convert import OBSERVATION_COLUMNS
from triage.backend import TriageResult
from triage.models import Incident, Ticket

# Only the partitions the worker holds (migration 009): another worker takes the rest.
CLAIM_SQL = f"""
WITH claimed AS (
    DELETE FROM triage_inbox WHERE id IN (
        SELECT i.id FROM triage_inbox i
        JOIN observations o ON o.observation_id = i.observation_id AND o.ts = i.ts
        WHERE triage_partition(o.district) = ANY(%s)
        ORDER BY i.id LIMIT %s FOR UPDATE OF i SKIP LOCKED)
    RETURNING id, observation_id, ts)
SELECT {", ".join("o." + c for c in OBSERVATION_COLUMNS)}, triage_partition(o.district) AS partition
FROM claimed c JOIN observations o ON o.observation_id = c.observation_id AND o.ts = c.ts
ORDER BY o.ts, c.id
"""
# What a worker taking partitions over rebuilds its correlators from (a day at most, like the
# backstop that closes older ones).
OPEN_INCIDENTS_SQL = """
SELECT triage_partition(district) AS partition, body FROM incidents
WHERE status = 'open' AND triage_partition(district) = ANY(%s) AND updated_at > now() - interval '1 day'
ORDER BY opened_at, incident_id
"""

UPSERT_INCIDENT = """
INSERT INTO incidents (incident_id, district, category, severity, status, opened_at, updated_at,
                       lat, lon, place_tags, observation_count, body)
VALUES (%(incident_id)s, %(district)s, %(category)s, %(severity)s, 'open', %(opened_at)s, %(now)s,
        %(lat)s, %(lon)s, %(place_tags)s, %(n)s, %(body)s)
ON CONFLICT (incident_id) DO UPDATE SET
    category = excluded.category, severity = excluded.severity, updated_at = excluded.updated_at,
    lat = excluded.lat, lon = excluded.lon, place_tags = excluded.place_tags,
    observation_count = excluded.observation_count, body = excluded.body
"""

# Fields a person overrode stay as they set them, and what a verification established stays;
# status and assignment belong to people.
UPSERT_TICKET = """
INSERT INTO tickets (ticket_id, incident_id, district, category, severity, agency, status, needs_review,
                     sla_due, created_at, updated_at, body)
VALUES (%(ticket_id)s, %(incident_id)s, %(district)s, %(category)s, %(severity)s, %(agency)s, 'open',
        %(needs_review)s, %(sla_due)s, %(now)s, %(now)s, %(body)s)
ON CONFLICT (incident_id) DO UPDATE SET
    category = coalesce(tickets.overrides->>'category', excluded.category),
    severity = coalesce(tickets.overrides->>'severity', excluded.severity),
    agency = coalesce(tickets.overrides->>'agency', excluded.agency),
    needs_review = excluded.needs_review,
    sla_due = least(tickets.sla_due, excluded.sla_due),
    updated_at = excluded.updated_at,
    body = excluded.body || tickets.established || tickets.overrides
           || jsonb_build_object('ticket_id', tickets.ticket_id, 'status', tickets.status)
RETURNING ticket_id, status, severity, (xmax = 0) AS created, body
"""


def claim(conn: psycopg.Connection[Any], limit: int, partitions: list[int]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(CLAIM_SQL, (partitions, limit)).fetchall())


def notify(conn: psycopg.Connection[Any], kind: str, ident: str, ts: datetime, data: dict[str, Any]) -> None:
    payload = json.dumps({"type": kind, "id": ident, "ts": ts.isoformat(), "data": data}, default=str)
    conn.execute("SELECT pg_notify(%s, %s)", (FEED_CHANNEL, payload[:7900]))


def save_incident(conn: psycopg.Connection[Any], incident: Incident, ticket: Ticket, now: datetime) -> None:
    loc = incident.location
    conn.execute(UPSERT_INCIDENT, {
        "incident_id": incident.incident_id, "district": incident.district,
        "category": ticket.category.value, "severity": ticket.severity.value,
        "opened_at": incident.opened_at or now, "now": now,
        "lat": loc.lat if loc else None, "lon": loc.lon if loc else None,
        "place_tags": list(loc.place_tags) if loc else [], "n": len(incident.observations),
        "body": Jsonb(incident.model_dump(mode="json", exclude_none=True)),
    })


def save_ticket(conn: psycopg.Connection[Any], result: TriageResult, now: datetime) -> dict[str, Any]:
    """Create or re-triage the incident's ticket; record history and the audit row."""
    t = result.ticket
    body = t.model_dump(mode="json", exclude_none=True)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(UPSERT_TICKET, {
            "ticket_id": t.ticket_id, "incident_id": t.incident_id, "district": t.district,
            "category": t.category.value, "severity": t.severity.value, "agency": t.agency.value,
            "needs_review": t.needs_review, "sla_due": t.sla_due, "now": now, "body": Jsonb(body),
        }).fetchone()
    assert row is not None
    action = "created" if row["created"] else "retriaged"
    conn.execute(
        "INSERT INTO ticket_history (ticket_id, ts, actor, action, details) VALUES (%s, %s, %s, %s, %s)",
        (row["ticket_id"], now, f"triage:{result.backend}", action,
         Jsonb({"severity": row["severity"], "category": t.category.value, "agency": t.agency.value,
                "needs_review": t.needs_review, "validation": result.validation})))
    conn.execute(
        "INSERT INTO triage_audit (ts, incident_id, ticket_id, backend, model, latency_ms, record)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (now, t.incident_id, row["ticket_id"], result.backend, result.model_file, result.latency_ms,
         Jsonb(result.audit_record())))
    return dict(row)


def save_shadow(conn: psycopg.Connection[Any], result: TriageResult, ticket_id: str, now: datetime) -> None:
    """A shadow model's decision: an audit row only (backend ``shadow``), never the ticket."""
    conn.execute(
        "INSERT INTO triage_audit (ts, incident_id, ticket_id, backend, model, latency_ms, record)"
        " VALUES (%s, %s, %s, 'shadow', %s, %s, %s)",
        (now, result.ticket.incident_id, ticket_id, result.model_version, result.latency_ms,
         Jsonb(result.audit_record())))


def link_observations(conn: psycopg.Connection[Any], incident_id: str, ids: list[tuple[str, datetime]]) -> None:
    with conn.cursor() as cur:
        cur.executemany("UPDATE observations SET incident_id = %s WHERE observation_id = %s AND ts = %s",
                        [(incident_id, oid, ts) for oid, ts in ids])
