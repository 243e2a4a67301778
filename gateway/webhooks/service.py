"""The delivery loop: one thread, its own connection and HTTP client.

Each pass syncs the city pack's agency channels when the pack changed (``channels``), writes the
escalation ladder's due reminders (``ladder``), queues deliveries for new ticket history, then
sends the due ones in their channel's format (``senders``: our signed JSON webhook, WeCom and
DingTalk group robots, e-mail); the delivery id is the idempotency key, the same on every retry.
A refusal or a network error schedules a retry with capped exponential backoff; after
``max_attempts`` the delivery is 'failed' — visible, never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, timedelta, tzinfo
from typing import Any

import httpx
import psycopg

from gateway.city import CityHolder
from gateway.db_worker import Clock, DbWorker, utc_now
from gateway.webhooks import channels, ladder, store
from gateway.webhooks.config import WebhookConfig
from gateway.webhooks.message import render
from gateway.webhooks.senders import Outcome, Sender, make_senders

log = logging.getLogger(__name__)


@dataclass
class WebhookStats:
    queued: int = 0
    delivered: int = 0
    retries: int = 0
    failed: int = 0
    errors: int = 0
    reminders: int = 0
    cancelled: int = 0


class WebhookService(DbWorker):
    name = "webhooks"
    stats: WebhookStats

    def __init__(self, database_url: str, config: WebhookConfig | None = None, *, clock: Clock = utc_now,
                 transport: httpx.BaseTransport | None = None, city: CityHolder | None = None) -> None:
        super().__init__(database_url)
        self.city = city
        self._synced: str | None = None  # sha256 of the pack whose channels are in the table
        self.config = config or WebhookConfig()
        self.join_s = self.config.timeout_s + 10  # a request may be in flight
        self.clock = clock
        self.stats = WebhookStats()
        self._http = httpx.Client(timeout=self.config.timeout_s, transport=transport,
                                  headers={"User-Agent": "urbanops-webhooks/1"})
        self.senders: dict[str, Sender] = make_senders(self._http, self.config)

    def _close(self) -> None:
        self._http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except psycopg.Error as err:
                self._failed(err)
            self._stop.wait(self.config.poll_s)

    def run_once(self, limit: int = 50) -> int:
        """Queue new deliveries and try the due ones; how many were tried."""
        conn = self._connection()
        pack = self.city.pack if self.city is not None else None
        if pack is not None and pack.sha256 != self._synced:
            with conn.transaction():
                result = channels.sync(conn, pack)
            self._synced = pack.sha256
            log.info("city pack %s: %d agency channels active, %d retired", pack.id, result.active,
                     result.deactivated)
        with conn.transaction():
            if pack is not None:
                self.stats.reminders += ladder.climb(conn, pack.config.escalation, self.clock(),
                                                     timedelta(seconds=self.config.ladder_window_s))
            self.stats.queued += store.enqueue(conn, self.clock(), self.config.reread_s)
        tried = 0
        while not self._stop.is_set():
            # One delivery per transaction: its row stays locked only while its request runs.
            with conn.transaction():
                due = store.claim_due(conn, 1)
                if not due:
                    return tried
                self._deliver(conn, due[0])
            tried += 1
            if tried >= limit:
                break
        return tried

    def _deliver(self, conn: psycopg.Connection[Any], d: dict[str, Any]) -> None:
        if d["event"] == "reminder" and d["ticket_status"] not in ("open", "escalated", None):
            store.cancelled(conn, d["id"], f"ticket {d['ticket_status']} before the reminder went out")
            self.stats.cancelled += 1
            return
        sender = self.senders.get(d["kind"])
        pack = self.city.pack if self.city is not None else None
        tz: tzinfo = pack.config.tz if pack is not None else UTC
        names = {a.value: (i.name.zh if d["lang"] == "zh" else i.name.en)
                 for a, i in pack.config.agencies.items()} if pack is not None else {}
        try:
            outcome = (sender.send(d, render(d["payload"], d["lang"], tz, names)) if sender is not None
                       else Outcome(False, None, f"no sender for kind {d['kind']!r}"))
        except httpx.HTTPError as err:
            outcome = Outcome(False, None, f"{type(err).__name__}: {err}")
        code, error = outcome.code, outcome.error or "refused"
        if outcome.ok:
            store.delivered(conn, d["id"], code or 200, self.clock())
            self.stats.delivered += 1
            return
        attempts = d["attempts"] + 1
        give_up = attempts >= self.config.max_attempts
        next_at = self.clock() + timedelta(seconds=self.config.backoff_s(attempts))
        store.failed(conn, d["id"], attempts, code, error, next_at, give_up)
        if give_up:
            self.stats.failed += 1
            log.warning("delivery %s (%s to %s) failed for good: %s", d["id"], d["kind"],
                        d["url"].split("?", 1)[0], error)  # a robot's key is in the query: never logged
        else:
            self.stats.retries += 1

