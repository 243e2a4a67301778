"""Ingest split over gateways on several hosts: topic-space partitions leased in PostgreSQL,
each owned through its own persistent MQTT session.

Why not ``$share``: Mosquitto 2.0 does not restore shared subscriptions after a restart, so
what devices publish before the gateways resubscribe is acknowledged and dropped. A plain
subscription of a persistent session is restored, with its queue. So each partition —
``city/{district}/{kind}/#`` — has one fixed client id (``{prefix}-{district}.{kind}``) and
one plain subscription, and the gateway holding the partition's lease (``gateway.store.leases``,
migration 010) is the one connected under that id:

- A gateway that dies, or is cut off, stops renewing; after the lease's expiry another takes the
  partition and connects under the same client id. The broker resumes the session: what it had
  queued, and what it had sent the dead owner without an acknowledgement, goes to the new owner.
  What the dead owner had committed but not acknowledged comes again, and the store's unique
  indexes drop it. Nothing is acknowledged before it is committed (or journaled), so nothing
  acknowledged is lost.
- Two owners never fight over a session. When a second connection comes with the same client
  id the broker closes the first; that one (re)connects only while its lease is known to be
  valid by the local clock (renewed less than ``ttl - margin`` ago, measured from before the
  renewal was sent, so it runs out before the database's expiry lets anyone else take it). So
  whenever another gateway may hold a partition, the old owner's bus stays off it; the next
  renewal tells it the partition is gone, and the bus is closed.
- A gateway whose own connection to the broker is down renews nothing, so a gateway cut off
  from the broker but not from the database does not sit on partitions it cannot serve.
- A connection that is up keeps receiving when the database is down (the writer journals, as
  for a single gateway); nobody can take its partitions meanwhile, as taking needs the database.
- Surplus partitions (a gateway joined) are disconnected before their lease is released.

Tickets and commands go out on one more connection, ``{client_id}-pub``, clean and unsubscribed.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import psycopg

from devices.topics import NAME_RE, ROOT, Kind
from gateway.ingest.bus import BusConfig, BusStats, Inbound, MqttBus
from gateway.store.batch import AckToken
from gateway.store.leases import INGEST_TABLES, PartitionLeases

log = logging.getLogger(__name__)

DECLARE_SQL = "INSERT INTO ingest_leases (partition) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING"
# Districts that devices were seen in, beyond the pack's, keep their partitions (names and kinds
# as the topic contract allows them).
DECLARE_SEEN_SQL = """
INSERT INTO ingest_leases (partition) SELECT DISTINCT district || '/' || kind FROM devices
WHERE district ~ %s AND kind = ANY(%s) ON CONFLICT DO NOTHING
"""
COUNTERS = ("connects", "disconnects", "received", "acked", "stale_acks")


def partitions_of(districts: Iterable[str]) -> list[str]:
    """The partitions of a city's districts: one per (district, kind)."""
    return sorted(f"{d}/{k.value}" for d in districts for k in Kind)


def partition_filter(partition: str) -> str:
    return f"{ROOT}/{partition}/#"


class PartitionedBus:
    """The ingest worker's bus when gateways split the city (``URBANOPS_INGEST_PARTITIONED``):
    the same interface as ``MqttBus``, over one bus per owned partition."""

    def __init__(self, config: BusConfig, on_message: Callable[[Inbound], None], *, database_url: str,
                 partitions: Sequence[str], ttl_s: float, session_prefix: str, worker_id: str) -> None:
        self.config = config
        self._on_message = on_message
        self._database_url = database_url
        self._declared = list(partitions)
        self._prefix = session_prefix
        self._generations = itertools.count(1)  # one sequence: an ack token's generation names its bus
        self.leases = PartitionLeases(worker_id, ttl_s, tables=INGEST_TABLES)
        self.margin_s = max(0.5, ttl_s / 6)
        self._valid_until = 0.0  # monotonic; the leases held are known to be valid until then
        self._buses: dict[str, MqttBus] = {}
        self._lock = threading.Lock()
        self._retired = BusStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.moves = 0  # partitions gained or lost
        self.control = MqttBus(replace(config, client_id=f"{config.client_id}-pub", subscriptions=(),
                                       clean_start=True, session_expiry_s=0), lambda _m: None,
                               generations=self._generations)

    # -- lifecycle -------------------------------------------------------------------
    def start(self, wait_s: float = 10.0) -> None:
        self.control.start(wait_s)
        self._thread = threading.Thread(target=self._run, name="ingest-leases", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(30)
        self.control.stop()

    # -- the interface of MqttBus ---------------------------------------------------------
    @property
    def connected(self) -> bool:
        with self._lock:
            buses = list(self._buses.values())
        return self.control.connected and all(b.connected for b in buses)

    @property
    def stats(self) -> BusStats:
        with self._lock:
            buses = [*self._buses.values(), self.control]
        total = replace(self._retired, extra={"partitions": sorted(self._buses)})
        for b in buses:
            _add_counts(total, b.stats)
        total.connected = self.connected
        return total

    def ack(self, token: AckToken) -> None:
        self.ack_many([token])

    def ack_many(self, tokens: Sequence[AckToken]) -> None:
        with self._lock:
            by_generation = {b.generation: b for b in self._buses.values()}
        groups: dict[int, list[AckToken]] = {}
        for t in tokens:
            groups.setdefault(t.generation, []).append(t)
        for generation, group in groups.items():
            bus = by_generation.get(generation)
            if bus is None:  # that connection is gone; the broker redelivers to whoever owns it now
                self._retired.stale_acks += sum(1 for t in group if t.qos)
            else:
                bus.ack_many(group)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                user_properties: list[tuple[str, str]] | None = None) -> None:
        self.control.publish(topic, payload, qos=qos, retain=retain, user_properties=user_properties)

    # -- leases -------------------------------------------------------------------------
    def lease_valid(self, partition: str) -> bool:
        return partition in self.leases.held and time.monotonic() < self._valid_until

    def _connect(self) -> psycopg.Connection[Any]:
        # A host cut off from the database must notice within the lease, not after TCP's minutes.
        return psycopg.connect(self._database_url, autocommit=True, connect_timeout=max(1, int(self.leases.ttl_s / 2)),
                               keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=2,
                               tcp_user_timeout=int(self.leases.ttl_s * 500))

    def _run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while not self._stop.is_set():
            sent = time.monotonic()
            if not self.control.connected:
                # A gateway that cannot reach the broker cannot serve its partitions: it stops
                # renewing, so that after the lease another one that can reach it takes them.
                self._stop.wait(0.2)
                continue
            try:
                if conn is None:
                    conn = self._connect()
                    conn.execute(DECLARE_SQL, (self._declared,))
                    conn.execute(DECLARE_SEEN_SQL, (NAME_RE.pattern, [k.value for k in Kind]))
                change = self.leases.refresh(conn, before_release=self._close)
                self._valid_until = sent + self.leases.ttl_s - self.margin_s
                self._apply(change.lost, change.gained)
            except psycopg.Error as err:
                log.warning("ingest leases not renewed: %s", err)
                if conn is not None:
                    conn.close()
                conn = None
            self._stop.wait(self.leases.ttl_s / 3)
        self._close(list(self._buses))
        if conn is not None:
            try:
                self.leases.leave(conn)  # others take over now rather than after the expiry
            except psycopg.Error as err:
                log.warning("ingest leases not given back: %s", err)
            conn.close()

    def _apply(self, lost: set[str], gained: set[str]) -> None:
        self._close(sorted(lost))
        self.moves += len(lost) + len(gained)
        if lost or gained:
            log.info("ingest partitions: gained %s, lost %s; holding %d", sorted(gained), sorted(lost),
                     len(self.leases.held))
        for partition in sorted(self.leases.held):
            bus = self._buses.get(partition)
            if bus is not None and bus.running:
                continue
            if bus is not None:  # its thread ended (the broker refused us): try again while leased
                log.warning("ingest partition %s: its connection gave up; reconnecting", partition)
                self._close([partition])
            self._open(partition)

    def _open(self, partition: str) -> None:
        client_id = f"{self._prefix}-{partition.replace('/', '.')}"
        bus = MqttBus(replace(self.config, client_id=client_id, subscriptions=(partition_filter(partition),)),
                      self._on_message, generations=self._generations,
                      may_connect=lambda: self.lease_valid(partition))
        with self._lock:
            self._buses[partition] = bus
        bus.start_background()

    def _close(self, partitions: list[str]) -> None:
        for partition in partitions:
            with self._lock:
                bus = self._buses.pop(partition, None)
            if bus is None:
                continue
            bus.stop()  # DISCONNECT keeps the session (and what is unacknowledged) for the next owner
            _add_counts(self._retired, bus.stats)


def _add_counts(total: BusStats, more: BusStats) -> None:
    for name in COUNTERS:
        setattr(total, name, getattr(total, name) + getattr(more, name))
