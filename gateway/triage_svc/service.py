"""The triage service loop.

Claims new observations from ``triage_inbox`` (deleting them in the same transaction that
stores the result, so a crash re-delivers them), correlates them into incidents, triages
each touched incident with the configured backend (the LLM falls back to rules inside the
backend), stores incident, ticket, history and audit, notifies the live feed, and after the
commit publishes each ticket on ``city/{district}/tickets``. It also escalates unacknowledged
tickets past their SLA and closes quiet incidents.

Several processes may run it against one database (gateways, ``urbanops triage worker`` on
GPU hosts): the city's districts fall into 16 partitions leased to the live workers
(``leases``), each partition has its own correlator, and a worker that takes a partition
over — from a crashed or a new worker, or after its own restart — rebuilds the correlator from
the partition's open incidents in the database. Results are written only under a lease the
worker still holds (the fence), so no incident is opened twice.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from devices.topics import tickets_topic
from gateway.db_worker import Clock, DbWorker, utc_now
from gateway.store.leases import PartitionLeases
from gateway.triage_svc import store
from gateway.triage_svc.convert import to_observation
from triage.backend import TriageBackend
from triage.correlate import Correlator, CorrelatorConfig
from triage.models import Incident

log = logging.getLogger(__name__)
Publish = Callable[[str, bytes], None]
# Called after the commit with each created, re-triaged or escalated ticket (its JSON body):
# dispatch and agency notification hook in here.
TicketListener = Callable[[dict[str, Any]], None]


@dataclass
class TriageStats:
    observations: int = 0
    incidents_opened: int = 0
    tickets_created: int = 0
    tickets_retriaged: int = 0
    escalated: int = 0
    closed: int = 0
    errors: int = 0
    # The LLM answered nothing usable and the rules' ticket was kept (any reason, and timeouts
    # alone): a stalled or broken model shows here while tickets keep coming.
    fallbacks: int = 0
    llm_timeouts: int = 0
    last_latency_ms: float = 0.0
    partitions: int = 0  # partitions this worker holds now
    partitions_taken: int = 0
    partitions_lost: int = 0
    incidents_restored: int = 0


class TriageService(DbWorker):
    name = "triage"
    join_s = 30.0  # a pass may be waiting on the model
    stats: TriageStats

    def __init__(self, database_url: str, backend: TriageBackend, *, publish: Publish | None = None,
                 clock: Clock = utc_now, poll_s: float = 0.25, upkeep_s: float = 10.0,
                 correlation: CorrelatorConfig | None = None, listeners: list[TicketListener] | None = None,
                 shadow: TriageBackend | None = None, worker_id: str | None = None,
                 lease_ttl_s: float = 6.0) -> None:
        super().__init__(database_url)
        self.backend = backend
        self.shadow = shadow
        self.publish = publish
        self.clock = clock
        self.poll_s = poll_s
        self.upkeep_s = upkeep_s
        self.correlation = correlation or CorrelatorConfig()
        self.correlators: dict[int, Correlator] = {}
        self.leases = PartitionLeases(
            worker_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}", lease_ttl_s)
        self._leases_at = -math.inf
        self.listeners = list(listeners or [])
        self.stats = TriageStats()

    def _close(self) -> None:
        idle = self._thread is None or not self._thread.is_alive()  # never share the connection
        if idle and self._conn is not None and not self._conn.closed:
            try:
                self.leases.leave(self._conn)
            except psycopg.Error as err:  # they expire by themselves
                log.warning("triage could not give its partitions back: %s", err)
        self.backend.close()
        if self.shadow is not None:
            self.shadow.close()

    def _run(self) -> None:
        next_upkeep = time.monotonic() + self.upkeep_s
        while not self._stop.is_set():
            try:
                busy = self.process_once() > 0
                if time.monotonic() >= next_upkeep:
                    self.upkeep()
                    next_upkeep = time.monotonic() + self.upkeep_s
            except psycopg.Error as err:
                # What the failed pass put into the correlators never reached the database:
                # rebuild them from what did.
                self.correlators.clear()
                self._failed(err)
                busy = False
            if not busy:
                self._stop.wait(self.poll_s)

    def _new_correlator(self, partition: int) -> Correlator:
        token = self.leases.held.get(partition, 0)
        # Unique across workers and takeovers: the lease's fencing token is never reused.
        return Correlator(self.correlation,
                          id_factory=lambda t, n: f"inc-{t:%Y%m%d%H%M%S}-{partition:02d}{token:05d}{n:04d}")

    def _restore(self, conn: psycopg.Connection[Any], partitions: set[int]) -> None:
        """Correlators for ``partitions`` from their open incidents in the database."""
        for p in partitions:
            self.correlators[p] = self._new_correlator(p)
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(store.OPEN_INCIDENTS_SQL, (sorted(partitions),)).fetchall()
        for row in rows:
            self.correlators[row["partition"]].restore(Incident.model_validate(row["body"]))
        self.stats.incidents_restored += len(rows)

    def _leases_due(self, conn: psycopg.Connection[Any]) -> None:
        if time.monotonic() - self._leases_at >= self.leases.ttl_s / 3:
            change = self.leases.refresh(conn)
            self._leases_at = time.monotonic()
            for p in change.lost:
                self.correlators.pop(p, None)
            self.stats.partitions_taken += len(change.gained)
            self.stats.partitions_lost += len(change.lost)
            if change.gained or change.lost:
                log.info("triage %s: took partitions %s, gave up %s; holds %d",
                         self.leases.worker_id, sorted(change.gained), sorted(change.lost), len(self.leases.held))
        missing = set(self.leases.held) - set(self.correlators)
        if missing:
            self._restore(conn, missing)
        self.stats.partitions = len(self.leases.held)

    def process_once(self, limit: int = 500) -> int:
        """One pass over the inbox of the partitions this worker holds; returns how many
        observations it took."""
        conn = self._connection()
        self._leases_due(conn)
        outbox: list[tuple[str | None, dict[str, Any]]] = []
        with conn.transaction():
            partitions = self.leases.fence(conn)
            if not partitions:
                return 0
            rows = store.claim(conn, limit, partitions)
            if not rows:
                return 0
            now = self.clock()
            touched: dict[str, Incident] = {}
            linked: dict[str, list[tuple[str, datetime]]] = {}
            for row in rows:
                obs, district, location = to_observation(row)
                correlator = self.correlators[row["partition"]]
                update = correlator.observe(obs, now=now, district=district, location=location)
                inc = update.incident
                touched[inc.incident_id] = inc
                linked.setdefault(inc.incident_id, []).append((row["observation_id"], row["ts"]))
                self.stats.incidents_opened += update.created
            for incident_id, incident in touched.items():
                result = self.backend.assess(incident)
                self.stats.last_latency_ms = result.latency_ms
                self.stats.fallbacks += int(result.fallback)
                self.stats.llm_timeouts += int(result.validation == "timeout")
                store.save_incident(conn, incident, result.ticket, now)
                saved = store.save_ticket(conn, result, now)
                store.link_observations(conn, incident_id, linked[incident_id])
                if self.shadow is not None:
                    store.save_shadow(conn, self.shadow.assess(incident), saved["ticket_id"], now)
                if saved["created"]:
                    self.stats.tickets_created += 1
                else:
                    self.stats.tickets_retriaged += 1
                summary = {"district": incident.district, "category": saved["body"].get("category"),
                           "severity": saved["severity"], "status": saved["status"]}
                store.notify(conn, "incident", incident_id, now, {**summary, "ticket_id": saved["ticket_id"]})
                store.notify(conn, "ticket", saved["ticket_id"], now, {**summary, "incident_id": incident_id})
                outbox.append((incident.district, saved["body"]))
        self.stats.observations += len(rows)
        self._publish(outbox)
        return len(rows)

    def _publish(self, outbox: list[tuple[str | None, dict[str, Any]]]) -> None:
        for district, body in outbox:
            if district and self.publish is not None:
                self.publish(tickets_topic(district), json.dumps(body, default=str).encode())
            for listener in self.listeners:
                try:
                    listener(body)
                except Exception:  # a listener's bug must not stop triage
                    log.exception("ticket listener failed")

    def upkeep(self) -> None:
        """Escalate overdue unacknowledged tickets; close quiet incidents."""
        conn = self._connection()
        now = self.clock()
        outbox: list[tuple[str | None, dict[str, Any]]] = []
        self._leases_due(conn)
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            partitions = self.leases.fence(conn)
            overdue = cur.execute(
                "UPDATE tickets SET status = 'escalated', escalated_at = %(now)s, updated_at = %(now)s,"
                " body = body || jsonb_build_object('status', 'escalated')"
                " WHERE status = 'open' AND sla_due < %(now)s AND triage_partition(district) = ANY(%(parts)s)"
                " RETURNING ticket_id, district, severity, body",
                {"now": now, "parts": partitions}).fetchall()
            for t in overdue:
                cur.execute("INSERT INTO ticket_history (ticket_id, ts, actor, action, details)"
                            " VALUES (%s, %s, 'system', 'escalate', %s)",
                            (t["ticket_id"], now, Jsonb({"reason": "SLA passed without acknowledgement"})))
                store.notify(conn, "ticket", t["ticket_id"], now,
                             {"district": t["district"], "severity": t["severity"], "status": "escalated",
                              "incident_id": t["body"].get("incident_id")})
                outbox.append((t["district"], t["body"]))
            self.stats.escalated += len(overdue)
            quiet = [inc for p in partitions if p in self.correlators for inc in self.correlators[p].close_quiet(now)]
            for inc in quiet:
                cur.execute("UPDATE incidents SET status = 'closed', closed_at = %s WHERE incident_id = %s",
                            (now, inc.incident_id))
                store.notify(conn, "incident", inc.incident_id, now, {"district": inc.district, "status": "closed"})
                self.stats.closed += 1
            # A backstop for incidents no correlator holds (e.g. more than a day old when restored).
            cur.execute("UPDATE incidents SET status = 'closed', closed_at = %s WHERE status = 'open'"
                        " AND updated_at < %s AND triage_partition(district) = ANY(%s)",
                        (now, now - timedelta(days=1), partitions))
        self._publish(outbox)
