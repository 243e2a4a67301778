"""The webhook loop: one thread, its own connection and HTTP client.

Each pass queues deliveries for new ticket history, then POSTs the due ones: the body is the
ticket JSON, signed with the subscription's secret; the delivery id is the idempotency key, the
same on every retry. A non-2xx answer or a network error schedules a retry with capped
exponential backoff; after ``max_attempts`` the delivery is 'failed' — visible, never dropped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import psycopg

from gateway.db_worker import Clock, DbWorker, utc_now
from gateway.webhooks import store
from gateway.webhooks.config import WebhookConfig
from gateway.webhooks.signing import EVENT_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)


@dataclass
class WebhookStats:
    queued: int = 0
    delivered: int = 0
    retries: int = 0
    failed: int = 0
    errors: int = 0


class WebhookService(DbWorker):
    name = "webhooks"
    stats: WebhookStats

    def __init__(self, database_url: str, config: WebhookConfig | None = None, *, clock: Clock = utc_now,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(database_url)
        self.config = config or WebhookConfig()
        self.join_s = self.config.timeout_s + 10  # a request may be in flight
        self.clock = clock
        self.stats = WebhookStats()
        self._http = httpx.Client(timeout=self.config.timeout_s, transport=transport,
                                  headers={"User-Agent": "urbanops-webhooks/1"})

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
        with conn.transaction():
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
        body = json.dumps(d["payload"], separators=(",", ":"), sort_keys=True, default=str).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(d["secret"], body),
                   IDEMPOTENCY_HEADER: f"urbanops-delivery-{d['id']}", EVENT_HEADER: d["event"]}
        code: int | None = None
        try:
            resp = self._http.post(d["url"], content=body, headers=headers)
            code = resp.status_code
            if 200 <= code < 300:
                store.delivered(conn, d["id"], code, self.clock())
                self.stats.delivered += 1
                return
            error = f"HTTP {code}: {resp.text[:200]}"
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}"
        attempts = d["attempts"] + 1
        give_up = attempts >= self.config.max_attempts
        next_at = self.clock() + timedelta(seconds=self.config.backoff_s(attempts))
        store.failed(conn, d["id"], attempts, code, error, next_at, give_up)
        if give_up:
            self.stats.failed += 1
            log.warning("webhook delivery %s to %s failed for good: %s", d["id"], d["url"], error)
        else:
            self.stats.retries += 1
