"""The ingest worker: MQTT bus → ``Ingestor`` → batches → COPY → acks.

The bus thread validates and routes each message into the open batch; the writer thread
commits a batch when it holds ``batch_max_rows`` rows or is ``batch_max_delay_ms`` old
(≤ 250 ms), then acknowledges its messages. When the writer falls behind, the bus thread
blocks, which stops reading from the socket and lets the broker hold the backlog.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from devices.topics import ROOT, shared
from gateway.ingest.bus import BusConfig, Inbound, MqttBus, backoff_delay
from gateway.ingest.partitions import PartitionedBus
from gateway.ingest.pipeline import FrameSink, IngestLimits, Ingestor, Ros2Router
from gateway.settings import Settings
from gateway.store.batch import Batch, DeviceSeen
from gateway.store.spill import SpillFile, sightings
from gateway.store.writer import StoreError, load_devices, upsert_devices, write_batch

log = logging.getLogger(__name__)
BatchListener = Callable[[Batch], None]


@dataclass
class WriterStats:
    batches: int = 0
    rows: int = 0
    duplicates: int = 0
    write_errors: int = 0
    last_batch_ms: float = 0.0
    last_commit: float = 0.0
    db_ok: bool = True
    spilled_batches: int = 0
    replayed_batches: int = 0


def subscriptions(settings: Settings) -> list[str]:
    """One shared subscription over the platform's namespace: gateway processes in one group
    split the traffic, and a message on a topic outside the contract still reaches us to be
    dead-lettered rather than vanishing unseen."""
    everything = f"{ROOT}/#"
    # Mosquitto 2.0 does not restore shared subscriptions after a broker restart, so what
    # devices publish before we resubscribe would match nothing and be dropped. A lone
    # gateway (empty share group) subscribes plainly: its session keeps the subscription.
    return [shared(everything, settings.mqtt_share_group)] if settings.mqtt_share_group else [everything]


class IngestWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        frame_sink: FrameSink | None = None,
        ros2: Ros2Router | None = None,
        listeners: Iterable[BatchListener] = (),
        client_id: str | None = None,
        partitions: Sequence[str] = (),
    ) -> None:
        """``partitions``: the city's ingest partitions (``partitions_of`` its districts), used
        when ``settings.ingest_partitioned``."""
        self.settings = settings
        self.frame_sink = frame_sink
        self.ros2 = ros2
        self.listeners = list(listeners)
        self.stats = WriterStats()
        self.max_rows = settings.batch_max_rows
        self.max_delay_s = settings.batch_max_delay_ms / 1000
        self._cond = threading.Condition()
        self._batch = Batch()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._last_devices_flush = 0.0
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._next_idle = 0.0
        self.spill_after_s = settings.spill_after_s
        self.spill = SpillFile(settings.data_dir / "spill" / f"{client_id or settings.mqtt_client_id}.journal",
                               settings.spill_max_bytes)
        self.ingestor: Ingestor | None = None
        config = BusConfig(
            host=settings.mqtt_host, port=settings.mqtt_port,
            client_id=client_id or settings.mqtt_client_id,
            username=settings.mqtt_username, password=settings.mqtt_password,
            tls=settings.mqtt_tls, ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
            subscriptions=subscriptions(settings),
            session_expiry_s=settings.mqtt_session_expiry_s,
            receive_maximum=settings.mqtt_receive_maximum,
        )
        self.bus: MqttBus | PartitionedBus
        if settings.ingest_partitioned:
            self.bus = PartitionedBus(config, self._on_message, database_url=settings.database_url,
                                      partitions=partitions, ttl_s=settings.ingest_lease_ttl_s,
                                      session_prefix=settings.mqtt_partition_prefix, worker_id=config.client_id)
        else:
            self.bus = MqttBus(config, self._on_message)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> IngestWorker:
        known: dict[str, tuple[str, str]] = {}
        try:
            self._conn = self._connect()
            known = load_devices(self._conn)
        except psycopg.OperationalError as err:  # start anyway: the journal covers an outage
            log.warning("database unavailable at start: %s", err)
            self._conn = None
        self._registered: set[str] = set(known)  # devices the registry is known to list
        self.ingestor = Ingestor(
            IngestLimits(
                max_future_s=self.settings.max_future_s,
                max_clock_skew_s=self.settings.max_clock_skew_s,
                dedupe_cache_size=self.settings.dedupe_cache_size,
            ),
            frame_sink=self.frame_sink, ros2=self.ros2, known_devices=known,
        )
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._writer.start()
        self.bus.start()
        return self

    def stop(self) -> None:
        """Stop receiving, commit what was received, acknowledge it, disconnect."""
        self.bus.stop()  # no ack can be sent after this; unacked messages are redelivered
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._writer:
            self._writer.join(30)
        if self._conn is not None:
            self._conn.close()

    def health(self) -> dict[str, str]:
        return {
            "mqtt": "ok" if self.bus.connected else "degraded",
            "ingest_store": "ok" if self.stats.db_ok else "degraded",
            "spill_journal": "ok" if not self.spill.batches else "degraded",
        }

    # -- bus thread ---------------------------------------------------------------------
    def _on_message(self, msg: Inbound) -> None:
        assert self.ingestor is not None
        with self._cond:
            # Backpressure: hold the network thread while the writer is far behind.
            while self._batch.rows >= 4 * self.max_rows and not self._stop.is_set():
                self._cond.wait(0.5)
            self.ingestor.handle(msg, self._batch)
            if self._batch.rows >= self.max_rows:
                self._cond.notify_all()

    # -- writer thread ------------------------------------------------------------------
    def _take(self) -> Batch | None:
        """The next batch to write; an empty one after an idle wait (time for upkeep);
        None once stopped and drained."""
        with self._cond:
            idle = False
            while True:
                age = time.monotonic() - self._batch.created
                has_work = bool(self._batch.acks)
                if has_work and (self._batch.rows >= self.max_rows or age >= self.max_delay_s):
                    break
                if self._stop.is_set():
                    if has_work:
                        break
                    return None
                if idle and not has_work:
                    return Batch()
                timeout = self.max_delay_s - age if has_work else self.max_delay_s
                self._cond.wait(max(0.001, timeout))
                idle = not has_work
            batch, self._batch = self._batch, Batch()
            self._cond.notify_all()
            return batch

    def _write_loop(self) -> None:
        self._replay_spill()  # what a previous run journaled during an outage
        while (batch := self._take()) is not None:
            self._flush_devices()
            if not batch.acks:
                self._idle()
                continue
            committed = self._store(batch)
            self.bus.ack_many(batch.acks)
            if committed:  # a journaled batch reaches listeners when it is replayed
                self._notify(batch)
        self._flush_devices(force=True)

    def _store(self, batch: Batch) -> bool:
        """Commit the batch (True), or journal it once the database has been down for a while
        (False). Returns only when the batch is durable somewhere, so its messages may be acked."""
        attempt = 0
        rng = random.Random()
        while True:
            # While the database is down, try it at most once a second, not once per batch.
            probe = self._down_since is None or time.monotonic() >= self._next_probe
            if probe and self._replay_spill():  # journal first: new rows never overtake it
                try:
                    self._write(batch)
                    return True
                except (StoreError, psycopg.OperationalError) as err:
                    self._outage(err, attempt)
            down_for = time.monotonic() - (self._down_since or time.monotonic())
            if (down_for >= self.spill_after_s or self._stop.is_set()) and self._journal(batch):
                self.stats.spilled_batches += 1
                return False
            if self._stop.is_set() and attempt > 5:
                raise StoreError("database down and spill journal full at shutdown")
            time.sleep(backoff_delay(attempt, 0.2, 2.0, rng))
            attempt += 1

    def _idle(self) -> None:
        """No traffic: replay the journal once the database is back and let listeners retry what
        they deferred, so an outage's data does not wait for the next message. At most 1/s."""
        now = time.monotonic()
        if now < self._next_idle:
            return
        self._next_idle = now + 1.0
        if self.spill.batches and (self._down_since is None or now >= self._next_probe):
            self._replay_spill()
        self._notify(Batch())  # an empty batch: a listener only flushes what it holds

    def _notify(self, batch: Batch) -> None:
        for listener in self.listeners:
            try:
                listener(batch)
            except Exception:  # a listener's bug must not stop ingest
                log.exception("batch listener failed")

    def _write(self, batch: Batch) -> None:
        started = time.perf_counter()
        conn = self._conn if self._conn and not self._conn.closed else self._connect()
        self._conn = conn
        assert self.ingestor is not None
        with self._cond:
            new = {d: s for d, s in sightings(batch, self.ingestor.device_updates).items()
                   if d not in self._registered}
        result = write_batch(conn, batch, new)
        self._registered.update(new)
        self.stats.db_ok = True
        self._down_since = None
        self.stats.batches += 1
        self.stats.rows += sum(result.inserted.values())
        self.stats.duplicates += result.duplicates
        self.stats.last_batch_ms = (time.perf_counter() - started) * 1000
        self.stats.last_commit = time.time()

    def _outage(self, err: Exception, attempt: int) -> None:
        self._next_probe = time.monotonic() + 1.0
        self.stats.write_errors += 1
        self.stats.db_ok = False
        if self._down_since is None:
            self._down_since = time.monotonic()
        if attempt == 0:
            log.warning("store write failed: %s", err)
        if self._conn is not None and self._conn.closed:
            self._conn = None

    def _replay_spill(self) -> bool:
        """Write every journaled batch; True when the journal is empty afterwards."""
        if not self.spill.batches:
            return True
        try:
            n = 0
            for batch, seen in self.spill.batches_in_file():
                self._learn(seen)
                self._write(batch)
                # Listeners (observations) see it now it is committed. Should the replay fail later
                # on, it all replays again: rows dedupe in the store, observations by their ids.
                self._notify(batch)
                n += 1
        except (StoreError, psycopg.OperationalError) as err:
            self._outage(err, 1)
            return False
        self.spill.clear()
        self.stats.replayed_batches += n
        log.info("database back: replayed %d journaled batches", n)
        return True

    def _journal(self, batch: Batch) -> bool:
        """With the sightings the registry has not taken: after a crash they place the devices."""
        assert self.ingestor is not None
        with self._cond:
            seen = sightings(batch, self.ingestor.device_updates)
        return self.spill.append(batch, seen)

    def _learn(self, seen: dict[str, DeviceSeen]) -> None:
        """Journaled devices are known from now on, and go to the registry at the next flush."""
        assert self.ingestor is not None
        with self._cond:
            for dev, s in seen.items():
                self.ingestor.devices.setdefault(dev, (s.district, s.kind))
                self.ingestor.device_updates.setdefault(dev, s)  # what this process saw wins

    def _flush_devices(self, force: bool = False) -> None:
        # The registry needs second-level freshness, not per-batch: this keeps upserts off
        # the hot path at high message rates.
        now = time.monotonic()
        if not force and (now - self._last_devices_flush < 1.0
                          or (self._down_since is not None and now < self._next_probe)):
            return
        self._last_devices_flush = now
        assert self.ingestor is not None
        with self._cond:
            updates = self.ingestor.take_device_updates()
        try:
            conn = self._conn if self._conn and not self._conn.closed else self._connect()
            self._conn = conn
            upsert_devices(conn, updates)
        except (StoreError, psycopg.OperationalError) as err:
            self._next_probe = time.monotonic() + 1.0
            if self._down_since is None:
                log.warning("device registry update deferred: %s", err)
            with self._cond:  # keep them for the next flush
                for dev_id, seen in updates.items():
                    self.ingestor.device_updates.setdefault(dev_id, seen)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.database_url, connect_timeout=5)
