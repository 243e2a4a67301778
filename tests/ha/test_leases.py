"""Partition leases against a real database: an even split, hand-over when a worker joins,
takeover after expiry, and the fence that stops a stalled owner from writing."""

from __future__ import annotations

import psycopg

from gateway.store.leases import PartitionLeases


def _age(conn: psycopg.Connection[object], worker: str) -> None:
    """As if ``worker`` had stalled for a minute: its heartbeat and leases ran out."""
    with conn.transaction():
        conn.execute("UPDATE triage_workers SET heartbeat_at = now() - interval '1 minute' WHERE worker_id = %s",
                     (worker,))
        conn.execute("UPDATE triage_leases SET expires_at = now() - interval '1 second' WHERE owner = %s",
                     (worker,))


def test_leases_split_move_and_fence(db_url: str) -> None:
    with psycopg.connect(db_url) as ca, psycopg.connect(db_url) as cb:
        a, b = PartitionLeases("a", ttl_s=30), PartitionLeases("b", ttl_s=30)
        assert len(a.refresh(ca).gained) == 16
        assert b.refresh(cb).gained == set()  # nothing free yet
        assert len(a.refresh(ca).lost) == 8  # a sees two live workers and gives half back
        assert len(b.refresh(cb).gained) == 8
        assert set(a.held).isdisjoint(b.held) and len(a.held) == len(b.held) == 8
        tokens_before = dict(a.held)

        _age(ca, "a")
        gained = b.refresh(cb).gained
        assert gained == set(tokens_before) and len(b.held) == 16
        with ca.transaction():
            assert a.fence(ca) == []  # the stalled owner may write nowhere
        assert a.refresh(ca).lost == set(tokens_before)
        with cb.transaction():
            assert b.fence(cb) == sorted(b.held)
        assert all(b.held[p] > t for p, t in tokens_before.items())  # new owner, new token

        b.leave(cb)
        with ca.transaction():
            free = ca.execute("SELECT count(*) FROM triage_leases WHERE owner IS NULL").fetchone()
        assert free == (16,)


def test_a_lease_nobody_took_is_renewed_after_its_expiry(db_url: str) -> None:
    """A database outage longer than the lease: when it ends, the owner keeps what nobody could take."""
    with psycopg.connect(db_url) as conn:
        a = PartitionLeases("outage", ttl_s=30)
        a.refresh(conn)
        tokens = dict(a.held)
        _age(conn, "outage")
        change = a.refresh(conn)
        assert change.lost == set() and change.gained == set() and a.held == tokens
        with conn.transaction():
            assert a.fence(conn) == sorted(tokens)  # valid again
        a.leave(conn)
