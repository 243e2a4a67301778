"""The dispatch loop: one thread with its own connection.

Tickets (from the triage service's listeners) and task events (from the ingest worker's batch
listeners, after their commit) are queued here and handled in order on the thread; every
``tick_s`` it sends approved proposals (auto policy or a manager's approval through the API,
which only writes the database) and supervises live tasks. Commands are published after the
transaction that decided them has committed.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from devices.payloads import TASK_EVENT_LABELS
from devices.topics import Kind
from gateway.db_worker import Clock, DbWorker, utc_now
from gateway.dispatch.config import DispatchConfig
from gateway.dispatch.dispatcher import Dispatcher, TaskEvent
from gateway.store.batch import Batch

log = logging.getLogger(__name__)
Publish = Callable[[str, bytes], None]
Item = tuple[str, Any]  # ("ticket", ticket_id) | ("event", TaskEvent)


@dataclass
class DispatchStats:
    tickets_seen: int = 0
    events_seen: int = 0
    commands_sent: int = 0
    errors: int = 0


class DispatchService(DbWorker):
    name = "dispatch"
    stats: DispatchStats

    def __init__(self, database_url: str, publish: Publish, config: DispatchConfig | None = None,
                 *, clock: Clock = utc_now) -> None:
        super().__init__(database_url)
        self.publish = publish
        self.config = config or DispatchConfig()
        self.clock = clock
        self.stats = DispatchStats()
        self._queue: queue.Queue[Item] = queue.Queue()
        self._dispatcher: Dispatcher | None = None

    # Listener entry points: called on other threads, so they only enqueue.
    def on_ticket(self, body: dict[str, Any]) -> None:
        ticket_id = body.get("ticket_id")
        if isinstance(ticket_id, str):
            self._queue.put(("ticket", ticket_id))

    def on_batch(self, batch: Batch) -> None:
        for topic, ev in batch.event_models:
            if ev.label in TASK_EVENT_LABELS and ev.cmd_id and topic.kind is not Kind.SENSOR:
                self._queue.put(("event", TaskEvent(topic.device_id, ev.label, ev.cmd_id, ev.ts, ev.text, ev.value)))

    def _get(self) -> Dispatcher:
        conn = self._connection()
        if self._dispatcher is None or self._dispatcher.conn is not conn:  # a new connection after a failure
            self._dispatcher = Dispatcher(conn, self.config)
        return self._dispatcher

    def _run(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            try:
                timeout = max(0.0, next_tick - time.monotonic())
                item: Item | None
                try:
                    item = self._queue.get(timeout=timeout)
                except queue.Empty:
                    item = None
                if item is not None:
                    self.handle(item)
                if time.monotonic() >= next_tick:
                    self.tick()
                    next_tick = time.monotonic() + self.config.tick_s
            except psycopg.Error as err:
                self._failed(err)

    def handle(self, item: Item) -> None:
        d = self._get()
        kind, value = item
        with d.conn.transaction():
            if kind == "ticket":
                self.stats.tickets_seen += 1
                d.on_ticket(value, self.clock())
                d.send_approved(self.clock())  # an auto-dispatch goes out now, not at the next tick
            else:
                self.stats.events_seen += 1
                d.on_event(value, self.clock())
        self._flush(d)

    def tick(self) -> None:
        d = self._get()
        with d.conn.transaction():
            d.supervise(self.clock())
            d.send_approved(self.clock())
        self._flush(d)

    def _flush(self, d: Dispatcher) -> None:
        for topic, payload in d.outbox:
            try:
                self.publish(topic, payload)
                self.stats.commands_sent += 1
            except Exception as err:  # the broker link retries QoS 1; the ack timeout resends otherwise
                log.warning("command publish to %s failed: %s", topic, err)
        d.outbox.clear()
