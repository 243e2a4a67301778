"""Watches tickets appear in the HTTP API as a dashboard would, and when each became readable.

The live feed (``GET /api/v1/feed``, Server-Sent Events) says a ticket changed; the watcher then
reads it (``GET /api/v1/tickets/{id}``) and its incident's observations
(``GET /api/v1/incidents/{id}``). A ticket counts as readable for a planted incident at the
moment both reads have returned and its observations show that incident (``link``). A poll of
``GET /api/v1/tickets?status=all`` once a second catches anything the feed did not announce
(a reconnect, a ``reset``). All times are ``time.monotonic()`` readings of this process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)
# Observations of one ticket's incident -> the planted incidents they show.
Linker = Callable[[list[dict[str, Any]]], set[str]]


@dataclass
class SeenTicket:
    ticket_id: str
    incident_id: str
    category: str = ""
    updated_at: str = ""
    first_readable: float = 0.0
    links: dict[str, float] = field(default_factory=dict)  # planted incident -> readable with it
    observations: list[dict[str, Any]] = field(default_factory=list)


class TicketWatcher:
    def __init__(self, api_url: str, token: str, link: Linker, poll_s: float = 1.0) -> None:
        self.api_url = api_url
        self.link = link
        self.poll_s = poll_s
        self.tickets: dict[str, SeenTicket] = {}
        self.errors = 0
        self.feed_events = 0
        self.feed_connected = threading.Event()
        self._headers = {"Authorization": f"Bearer {token}"}
        self._last_id = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> TicketWatcher:
        for target, name in ((self._feed, "e2e-feed"), (self._poll, "e2e-poll")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def _get(self, client: httpx.Client, path: str, **params: Any) -> Any:
        for _ in range(20):
            r = client.get(f"{self.api_url}{path}", params=params or None, headers=self._headers, timeout=10.0)
            if r.status_code == 429:  # the per-token rate limit: wait as told, like a client
                time.sleep(float(r.headers.get("Retry-After", "1")))
                continue
            r.raise_for_status()
            return r.json()
        raise RuntimeError(f"{path}: rate limited 20 times in a row")

    def refresh(self, client: httpx.Client, ticket_id: str) -> None:
        """Read the ticket and its incident; note the planted incidents it now shows."""
        try:
            ticket = self._get(client, f"/api/v1/tickets/{ticket_id}")
            incident = self._get(client, f"/api/v1/incidents/{ticket['incident_id']}")
        except (httpx.HTTPError, RuntimeError, ValueError) as err:
            self.errors += 1
            log.warning("reading ticket %s failed: %s", ticket_id, err)
            return
        now = time.monotonic()
        linked = self.link(incident["observations"])
        with self._lock:
            seen = self.tickets.get(ticket_id)
            if seen is None:
                seen = self.tickets[ticket_id] = SeenTicket(ticket_id, ticket["incident_id"], first_readable=now)
            seen.category = ticket["category"]
            seen.updated_at = ticket["updated_at"]
            seen.observations = incident["observations"]
            for planted in linked:
                seen.links.setdefault(planted, now)

    def _feed(self) -> None:
        with httpx.Client() as client:
            while not self._stop.is_set():
                try:
                    # Resume where the last stream ended: the hub replays what came in between.
                    headers = {**self._headers, **({"Last-Event-ID": self._last_id} if self._last_id else {})}
                    with client.stream("GET", f"{self.api_url}/api/v1/feed", headers=headers,
                                       timeout=httpx.Timeout(10.0, read=2.0)) as r:
                        r.raise_for_status()
                        self.feed_connected.set()
                        self._read_feed(client, r)
                except httpx.ReadTimeout:
                    continue  # no event for a while (keepalives come every 15 s): check _stop, reconnect
                except httpx.HTTPError as err:
                    self.errors += 1
                    log.warning("feed: %s", err)
                    self._stop.wait(0.5)

    def _read_feed(self, client: httpx.Client, r: httpx.Response) -> None:
        event = ""
        for line in r.iter_lines():
            if self._stop.is_set():
                return
            if line.startswith("id: "):
                self._last_id = line[4:]
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "ticket":
                self.feed_events += 1
                try:
                    ticket_id = str(json.loads(line[6:])["id"])
                except (ValueError, KeyError):
                    continue
                self.refresh(client, ticket_id)
            elif not line:
                event = ""

    def _poll(self) -> None:
        with httpx.Client() as client:
            while not self._stop.wait(self.poll_s):
                try:
                    page = self._get(client, "/api/v1/tickets", status="all", limit=1000)
                except (httpx.HTTPError, RuntimeError, ValueError) as err:
                    self.errors += 1
                    log.warning("ticket poll: %s", err)
                    continue
                for item in page["items"]:
                    with self._lock:
                        seen = self.tickets.get(item["ticket_id"])
                        stale = seen is None or seen.updated_at != item["updated_at"]
                    if stale:
                        self.refresh(client, item["ticket_id"])

    def snapshot(self) -> list[SeenTicket]:
        with self._lock:
            return list(self.tickets.values())
