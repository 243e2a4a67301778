"""Drone verification of single-source, high-severity tickets.

A ticket whose severity is at least ``verify_min_severity`` (high), whose certainty is not yet
``Observed`` and whose incident rests on one source only (one detection, one citizen report, one
sensor) gets an ``inspect`` task for the nearest idle drone (auto-approved; same planner rules
as robots, any district within ``verify_max_distance_m``). The drone flies there, hovers, looks,
and answers with ``task_done`` whose ``value`` is its onboard confidence (0..1) that the hazard
is there (see ``docs/dispatch.md``, "Drone verification"). The verdict changes the ticket:

- confirmed (value >= ``verify_confirm_threshold``): certainty -> ``Observed``, severity kept;
- not confirmed (value below it): certainty -> ``Unlikely``, severity one step down;
- no value, or ``task_failed``: inconclusive, nothing changes but the record.

Each verdict writes a ``verify_result`` history row (actor ``dispatch``), a ``verification``
object in the ticket body, and NOTIFYs the live feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from devices.payloads import Action
from gateway.dispatch import store
from gateway.dispatch.config import DispatchConfig
from gateway.triage_svc.store import notify
from triage.models import Certainty, Severity

ACTION = Action.INSPECT


def source_keys(observations: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Independent sources of an incident: one per device (all its detections are one source);
    each observation without a device (a citizen report) is a source of its own."""
    keys: set[tuple[str, str]] = set()
    for i, o in enumerate(observations):
        device = o.get("device_id")
        keys.add((str(o.get("source")), str(device) if device else f"#{i}"))
    return keys


def single_source(observations: list[dict[str, Any]]) -> bool:
    return len(source_keys(observations)) == 1


def why_verify(t: dict[str, Any], config: DispatchConfig) -> str | None:
    """The reason to send a drone to this ticket (a ``verify_target`` row), or None."""
    if not config.verify_enabled or t["status"] == "resolved" or t["lat"] is None or t["lon"] is None:
        return None
    try:
        severity = Severity(t["severity"])
    except ValueError:
        return None
    if severity.rank < Severity(config.verify_min_severity).rank:
        return None
    if t["certainty"] == Certainty.OBSERVED.value:
        return None
    observations = list((t["incident_body"] or {}).get("observations") or [])
    if not single_source(observations):
        return None
    return f"{severity.value} severity on a single source ({len(observations)} observation(s)), {t['certainty']}"


def verify_target(conn: psycopg.Connection[Any], ticket_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT t.ticket_id, t.district, t.category, t.status, t.severity, t.body->>'certainty' AS certainty,"
            " t.incident_id, i.lat, i.lon, i.body AS incident_body"
            " FROM tickets t JOIN incidents i USING (incident_id) WHERE t.ticket_id = %s",
            (ticket_id,)).fetchone()


@dataclass(frozen=True, slots=True)
class Verdict:
    confirmed: bool | None  # None: inconclusive
    confidence: float | None
    text: str | None


def verdict_of(label: str, value: float | None, text: str | None, threshold: float) -> Verdict:
    """The convention: ``task_done`` with ``value`` in [0, 1] is the onboard confidence that the
    hazard is there; no value, or ``task_failed`` (could not look), is inconclusive."""
    if label != "task_done" or value is None:
        return Verdict(None, value, text)
    return Verdict(value >= threshold, value, text)


def apply_verdict(conn: psycopg.Connection[Any], ticket_id: str, verdict: Verdict, base: dict[str, Any],
                  now: datetime) -> dict[str, Any] | None:
    """Raise or lower the ticket's certainty and severity; history, body, feed. Returns the change."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT ticket_id, incident_id, district, severity, status, body->>'certainty' AS certainty"
                          " FROM tickets WHERE ticket_id = %s FOR UPDATE", (ticket_id,)).fetchone()
    if row is None:
        return None
    old_sev, old_cert = Severity(row["severity"]), row["certainty"]
    if verdict.confirmed is True:
        new_sev, new_cert = old_sev, Certainty.OBSERVED.value
    elif verdict.confirmed is False:
        new_sev, new_cert = old_sev.shifted(-1), Certainty.UNLIKELY.value
    else:
        new_sev, new_cert = old_sev, old_cert
    outcome = {True: "confirmed", False: "not_confirmed", None: "inconclusive"}[verdict.confirmed]
    record = {**base, "outcome": outcome, "confidence": verdict.confidence, "text": verdict.text,
              "certainty": [old_cert, new_cert], "severity": [old_sev.value, new_sev.value],
              "at": now.isoformat()}
    fields: dict[str, Any] = {"certainty": new_cert, "severity": new_sev.value, "verification": record}
    # A confirmation is a fact that later re-triage must not undo: it goes into ``established``
    # (kept over triage's body; ``overrides`` stays what people set). A negative or inconclusive
    # check only changes the body and columns, so fresh evidence re-triaged later can raise it again.
    kept = {"certainty": new_cert, "verification": record} if verdict.confirmed else {"verification": record}
    conn.execute("UPDATE tickets SET severity = %s, updated_at = %s, body = body || %s,"
                 " established = established || %s WHERE ticket_id = %s",
                 (new_sev.value, now, Jsonb(fields), Jsonb(kept), ticket_id))
    if new_sev is not old_sev:
        conn.execute("UPDATE incidents SET severity = %s, updated_at = %s WHERE incident_id = %s",
                     (new_sev.value, now, row["incident_id"]))
    store.history(conn, ticket_id, "verify_result", record, now)
    notify(conn, "incident", row["incident_id"], now,
           {"district": row["district"], "severity": new_sev.value, "certainty": new_cert, "ticket_id": ticket_id,
            "verification": outcome})
    return record
