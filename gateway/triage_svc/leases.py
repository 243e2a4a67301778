"""Partition leases for triage workers (migration 009).

Every worker heartbeats in ``triage_workers``; the live ones share the 16 partitions evenly.
A worker renews what it holds, gives back what is beyond its fair share (so a newcomer gets
work), and takes free or expired partitions up to its share. Each take draws a new fencing
token. Times are the database's (``now()``), so workers on hosts whose clocks disagree still
agree on who holds what.

``fence`` is called inside the transaction that writes a pass's results: it locks the worker's
lease rows FOR SHARE and returns only those still its own with the same token, so a worker
that stalled past its expiry and lost a partition writes nothing there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import psycopg

HEARTBEAT_SQL = """
INSERT INTO triage_workers (worker_id) VALUES (%(me)s)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now()
"""
LIVE_SQL = "SELECT count(*) FROM triage_workers WHERE heartbeat_at > now() - make_interval(secs => %(ttl)s)"
RENEW_SQL = """
UPDATE triage_leases SET expires_at = now() + make_interval(secs => %(ttl)s)
WHERE owner = %(me)s AND token = ANY(%(tokens)s) AND expires_at > now()
RETURNING partition, token
"""
RELEASE_SQL = """
UPDATE triage_leases SET owner = NULL, expires_at = '-infinity', moved_at = now()
WHERE owner = %(me)s AND partition = ANY(%(parts)s)
"""
TAKE_SQL = """
UPDATE triage_leases SET owner = %(me)s, token = nextval('triage_lease_token'),
       expires_at = now() + make_interval(secs => %(ttl)s), moved_at = now()
WHERE partition IN (SELECT partition FROM triage_leases
                    WHERE owner IS NULL OR expires_at <= now()
                    ORDER BY partition LIMIT %(n)s FOR UPDATE SKIP LOCKED)
RETURNING partition, token
"""
FENCE_SQL = """
SELECT partition FROM triage_leases
WHERE owner = %(me)s AND partition = ANY(%(parts)s) AND token = ANY(%(tokens)s) AND expires_at > now()
FOR SHARE
"""


@dataclass
class LeaseChange:
    gained: set[int] = field(default_factory=set)
    lost: set[int] = field(default_factory=set)


@dataclass
class PartitionLeases:
    worker_id: str
    ttl_s: float = 6.0
    held: dict[int, int] = field(default_factory=dict)  # partition -> fencing token

    def refresh(self, conn: psycopg.Connection[Any]) -> LeaseChange:
        """Heartbeat, renew, rebalance; in its own transaction."""
        change = LeaseChange()
        args: dict[str, Any] = {"me": self.worker_id, "ttl": self.ttl_s}
        with conn.transaction():
            conn.execute(HEARTBEAT_SQL, args)
            row = conn.execute(LIVE_SQL, args).fetchone()
            live = max(1, int(row[0]) if row else 1)
            total_row = conn.execute("SELECT count(*) FROM triage_leases").fetchone()
            total = int(total_row[0]) if total_row else 0
            renewed = dict(conn.execute(RENEW_SQL, {**args, "tokens": list(self.held.values())}).fetchall())
            change.lost = set(self.held) - set(renewed)
            share = math.ceil(total / live)
            surplus = sorted(renewed)[share:]
            if surplus:
                conn.execute(RELEASE_SQL, {**args, "parts": surplus})
                for p in surplus:
                    del renewed[p]
                change.lost |= set(surplus)
            if len(renewed) < share:
                taken = dict(conn.execute(TAKE_SQL, {**args, "n": share - len(renewed)}).fetchall())
                renewed.update(taken)
                change.gained = set(taken)
        self.held = {int(p): int(t) for p, t in renewed.items()}
        return change

    def fence(self, conn: psycopg.Connection[Any]) -> list[int]:
        """The partitions this worker may write in the current transaction (locked FOR SHARE)."""
        if not self.held:
            return []
        rows = conn.execute(FENCE_SQL, {"me": self.worker_id, "parts": list(self.held),
                                        "tokens": list(self.held.values())}).fetchall()
        return sorted(int(r[0]) for r in rows)

    def leave(self, conn: psycopg.Connection[Any]) -> None:
        """Give every partition back at once (a clean stop), so others need not wait for expiry."""
        with conn.transaction():
            conn.execute(RELEASE_SQL, {"me": self.worker_id, "parts": list(self.held)})
            conn.execute("DELETE FROM triage_workers WHERE worker_id = %s", (self.worker_id,))
        self.held = {}
