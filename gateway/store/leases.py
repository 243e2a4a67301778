"""Partition leases in PostgreSQL, for workers that share a fixed set of partitions.

Triage workers lease districts' incident partitions (migration 009); gateways lease the
topic space's partitions (migration 010). Both use this one mechanism.

Every worker heartbeats in its workers table; the live ones share the partitions evenly.
A worker renews what it holds — even past the expiry, as long as nobody took it meanwhile
(owner and token unchanged; taking changes both), so a database outage longer than the lease
does not reshuffle the city when it ends — gives back what is beyond its fair share (so a newcomer gets
work), and takes free or expired partitions up to its share. Each take draws a new fencing
token. Times are the database's (``now()``), so workers on hosts whose clocks disagree still
agree on who holds what.

``fence`` is called inside the transaction that writes a pass's results: it locks the worker's
lease rows FOR SHARE and returns only those still its own with the same token, so a worker
that stalled past its expiry and lost a partition writes nothing there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

HEARTBEAT_SQL = """
INSERT INTO {workers} (worker_id) VALUES (%(me)s)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now()
"""
LIVE_SQL = "SELECT count(*) FROM {workers} WHERE heartbeat_at > now() - make_interval(secs => %(ttl)s)"
COUNT_SQL = "SELECT count(*) FROM {leases}"
RENEW_SQL = """
UPDATE {leases} SET expires_at = now() + make_interval(secs => %(ttl)s)
WHERE owner = %(me)s AND token = ANY(%(tokens)s)
RETURNING partition, token
"""
RELEASE_SQL = """
UPDATE {leases} SET owner = NULL, expires_at = '-infinity', moved_at = now()
WHERE owner = %(me)s AND partition = ANY(%(parts)s)
"""
TAKE_SQL = """
UPDATE {leases} SET owner = %(me)s, token = nextval({sequence}),
       expires_at = now() + make_interval(secs => %(ttl)s), moved_at = now()
WHERE partition IN (SELECT partition FROM {leases}
                    WHERE owner IS NULL OR expires_at <= now()
                    ORDER BY partition LIMIT %(n)s FOR UPDATE SKIP LOCKED)
RETURNING partition, token
"""
FENCE_SQL = """
SELECT partition FROM {leases}
WHERE owner = %(me)s AND partition = ANY(%(parts)s) AND token = ANY(%(tokens)s) AND expires_at > now()
FOR SHARE
"""
LEAVE_SQL = "DELETE FROM {workers} WHERE worker_id = %(me)s"


@dataclass(frozen=True)
class LeaseTables:
    workers: str
    leases: str
    sequence: str

    def query(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(workers=sql.Identifier(self.workers), leases=sql.Identifier(self.leases),
                                        sequence=sql.Literal(self.sequence))


TRIAGE_TABLES = LeaseTables("triage_workers", "triage_leases", "triage_lease_token")
INGEST_TABLES = LeaseTables("ingest_workers", "ingest_leases", "ingest_lease_token")


@dataclass
class LeaseChange:
    gained: set[Any] = field(default_factory=set)
    lost: set[Any] = field(default_factory=set)


@dataclass
class PartitionLeases:
    worker_id: str
    ttl_s: float = 6.0
    tables: LeaseTables = TRIAGE_TABLES
    held: dict[Any, int] = field(default_factory=dict)  # partition -> fencing token

    def refresh(self, conn: psycopg.Connection[Any],
                before_release: Callable[[list[Any]], None] | None = None) -> LeaseChange:
        """Heartbeat, renew, rebalance; in its own transaction. ``before_release`` is called with
        the surplus partitions while this worker still holds them (to stop using them first)."""
        change = LeaseChange()
        q = self.tables.query
        args: dict[str, Any] = {"me": self.worker_id, "ttl": self.ttl_s}
        with conn.transaction():
            conn.execute(q(HEARTBEAT_SQL), args)
            row = conn.execute(q(LIVE_SQL), args).fetchone()
            live = max(1, int(row[0]) if row else 1)
            total_row = conn.execute(q(COUNT_SQL)).fetchone()
            total = int(total_row[0]) if total_row else 0
            renewed = dict(conn.execute(q(RENEW_SQL), {**args, "tokens": list(self.held.values())}).fetchall())
            change.lost = set(self.held) - set(renewed)
            share = math.ceil(total / live)
            surplus = sorted(renewed)[share:]
            if surplus:
                if before_release is not None:
                    before_release(surplus)
                conn.execute(q(RELEASE_SQL), {**args, "parts": surplus})
                for p in surplus:
                    del renewed[p]
                change.lost |= set(surplus)
            if len(renewed) < share:
                taken = dict(conn.execute(q(TAKE_SQL), {**args, "n": share - len(renewed)}).fetchall())
                renewed.update(taken)
                change.gained = set(taken)
        self.held = {p: int(t) for p, t in renewed.items()}
        return change

    def fence(self, conn: psycopg.Connection[Any]) -> list[Any]:
        """The partitions this worker may write in the current transaction (locked FOR SHARE)."""
        if not self.held:
            return []
        rows = conn.execute(self.tables.query(FENCE_SQL), {"me": self.worker_id, "parts": list(self.held),
                                                           "tokens": list(self.held.values())}).fetchall()
        return sorted(r[0] for r in rows)

    def leave(self, conn: psycopg.Connection[Any]) -> None:
        """Give every partition back at once (a clean stop), so others need not wait for expiry."""
        args = {"me": self.worker_id, "parts": list(self.held)}
        with conn.transaction():
            conn.execute(self.tables.query(RELEASE_SQL), args)
            conn.execute(self.tables.query(LEAVE_SQL), args)
        self.held = {}
