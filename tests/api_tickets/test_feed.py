"""The live feed: NOTIFY to SSE within 2 s, resume with Last-Event-ID, reset, slow clients."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg

from gateway.api.routes_feed import FeedHub
from tests.api_tickets.conftest import LiveServer


class SseReader:
    """Reads one SSE stream in a thread and hands complete events over a queue."""

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, params: dict[str, str] | None = None):
        self.events: queue.Queue[dict[str, str]] = queue.Queue()
        self.connected = threading.Event()
        self.status = 0
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=30.0))
        self._thread = threading.Thread(target=self._run, args=(url, headers or {}, params or {}), daemon=True)
        self._thread.start()

    def _run(self, url: str, headers: dict[str, str], params: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers, params=params) as res:
                self.status = res.status_code
                event: dict[str, str] = {}
                for line in res.iter_lines():
                    if line.startswith(": connected"):
                        self.connected.set()
                    elif line == "":
                        if "data" in event:  # a block with only "retry:" is no event
                            self.events.put(event)
                        event = {}
                    elif not line.startswith(":"):
                        key, _, value = line.partition(":")
                        event[key] = value.lstrip(" ")
        except httpx.HTTPError:
            pass
        finally:
            self.connected.set()

    def next(self, timeout: float) -> dict[str, str]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self._client.close()


def _notify(db_url: str, doc: dict[str, Any]) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pg_notify('urbanops_feed', %s)", (json.dumps(doc),))


def _reader(live_server: LiveServer, **kw: Any) -> Iterator[SseReader]:
    reader = SseReader(live_server.url + "/api/v1/feed", **kw)
    assert reader.connected.wait(10)
    yield reader
    reader.close()


def test_notify_reaches_client_within_2s_and_resumes(live_server: LiveServer, db_url: str,
                                                       tokens: dict[str, str]) -> None:
    gen = _reader(live_server, params={"token": tokens["operator"]})  # EventSource style auth
    reader = next(gen)
    assert reader.status == 200
    sent = time.monotonic()
    _notify(db_url, {"type": "incident", "id": "inc-1", "ts": "2026-11-28T08:15:00Z",
                     "data": {"district": "futian", "category": "fire", "severity": "high"}})
    first = reader.next(timeout=2.0)
    assert time.monotonic() - sent < 2.0
    assert first["event"] == "incident" and json.loads(first["data"])["id"] == "inc-1"
    for n in (2, 3):
        _notify(db_url, {"type": "ticket", "id": f"tkt-{n}", "ts": "2026-11-28T08:15:00Z", "data": {}})
    assert [json.loads(reader.next(2.0)["data"])["id"] for _ in (2, 3)] == ["tkt-2", "tkt-3"]
    reader.close()

    # Reconnect with the first event's id: exactly the two after it are replayed, in order.
    resumed = SseReader(live_server.url + "/api/v1/feed",
                        headers={"Authorization": f"Bearer {tokens['operator']}", "Last-Event-ID": first["id"]})
    assert resumed.connected.wait(10)
    replay = [resumed.next(2.0) for _ in range(2)]
    assert [json.loads(e["data"])["id"] for e in replay] == ["tkt-2", "tkt-3"]
    assert [e["event"] for e in replay] == ["ticket", "ticket"]
    resumed.close()

    # An id from another process (or too old) gets a reset: reload through the REST API.
    stale = SseReader(live_server.url + "/api/v1/feed", params={"token": tokens["operator"], "last_id": "1-1"})
    assert stale.connected.wait(10)
    assert stale.next(2.0)["event"] == "reset"
    stale.close()


def test_feed_refuses_bad_tokens(live_server: LiveServer, tokens: dict[str, str]) -> None:
    with httpx.Client() as c:
        assert c.get(live_server.url + "/api/v1/feed").status_code == 401
        assert c.get(live_server.url + "/api/v1/feed", params={"token": tokens["wrong"]}).status_code == 401
        assert c.get(live_server.url + "/api/v1/feed", params={"token": tokens["expired"]}).status_code == 401


def test_hub_fans_out_and_drops_slow_clients() -> None:
    async def scenario() -> None:
        hub = FeedHub("postgresql://unused", ring_size=3, queue_size=2)
        fast, _, _ = hub.subscribe(None)
        slow, _, _ = hub.subscribe(None)
        hub.publish(json.dumps({"type": "incident", "id": "a"}))
        assert (await fast.queue.get()) is not None
        hub.publish(json.dumps({"type": "incident", "id": "b"}))
        hub.publish(json.dumps({"type": "incident", "id": "c"}))  # slow now holds a, b: full, drops
        assert slow.queue.qsize() == 1 and slow.queue.get_nowait() is None  # told to disconnect
        hub.publish("not json")  # ignored, not numbered
        hub.publish(json.dumps({"type": "device", "id": "d"}))
        # ring keeps the last 3 (b, c, d): resuming from a (seq 1) works, from before it does not
        _, replay, reset = hub.subscribe(f"{hub.epoch}-1")
        assert not reset and [json.loads(e.data)["id"] for e in replay] == ["b", "c", "d"]
        _, replay, reset = hub.subscribe(f"{hub.epoch}-0")
        assert reset and replay == []
        _, _, reset = hub.subscribe(f"{hub.epoch}-99")  # from the future
        assert reset

    asyncio.run(scenario())
