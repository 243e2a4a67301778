"""``/api/v1/feed``: the live feed as Server-Sent Events, fed by PostgreSQL ``LISTEN urbanops_feed``.

One ``FeedHub`` per app holds the only listening connection (opened on the first subscriber,
reopened after a failure) and fans every notification out to the clients' bounded queues.
Each event gets an id ``<epoch>-<seq>``; the last ``ring_size`` events stay in memory, so a
client reconnecting with ``Last-Event-ID`` gets what it missed. When it cannot (the id is from
another process, or older than the ring, or the listener was down) it gets a ``reset`` event and
should reload its lists through the REST API. A client too slow to keep its queue from filling
is disconnected; its EventSource reconnects and resumes from the ring.

``EventSource`` cannot set headers, so this route (only this one) also takes the token as
``?token=``. Prefer the header where the client can send it: query strings end up in logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

import psycopg
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.api.deps import API_PREFIX, AUTH_RESPONSES, Pool
from gateway.security.auth import Role, Token, TokenError, verify_token
from gateway.store.observations import FEED_CHANNEL

log = logging.getLogger(__name__)
router = APIRouter(prefix=API_PREFIX, tags=["feed"], responses=AUTH_RESPONSES)
_bearer = HTTPBearer(auto_error=False, scheme_name="bearer")


@dataclass(frozen=True, slots=True)
class FeedEvent:
    seq: int
    kind: str
    data: str  # one line of JSON

    def frame(self, epoch: str) -> bytes:
        return f"id: {epoch}-{self.seq}\nevent: {self.kind}\ndata: {self.data}\n\n".encode()


@dataclass(eq=False)
class FeedClient:
    queue: asyncio.Queue[FeedEvent | None]

    def offer(self, event: FeedEvent | None) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # Too slow: drop what it has queued and end its stream; it resumes by Last-Event-ID.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


@dataclass
class FeedHub:
    database_url: str
    ring_size: int = 1000
    queue_size: int = 256
    max_clients: int = 2000
    heartbeat_s: float = 15.0
    reconnect_s: float = 1.0
    epoch: str = field(default_factory=lambda: str(int(time.time() * 1000)))
    _seq: int = 0
    _ring: deque[FeedEvent] = field(init=False)
    _clients: set[FeedClient] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None
    _listening: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._ring = deque(maxlen=self.ring_size)

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def start(self, wait_s: float = 5.0) -> None:
        """Start listening if not yet; wait until LISTEN is in effect (or ``wait_s`` passes)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="feed-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), wait_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for client in list(self._clients):
            client.offer(None)

    async def _run(self) -> None:
        connected_before = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {FEED_CHANNEL}")
                    if connected_before:  # notifications sent while we were away are lost
                        self.publish(json.dumps({"type": "reset", "reason": "feed listener reconnected"}))
                    connected_before = True
                    self._listening.set()
                    async for note in conn.notifies():
                        self.publish(note.payload)
            except psycopg.Error as err:
                log.warning("feed listener lost the database (%s); retrying in %.0f s", err, self.reconnect_s)
            self._listening.clear()
            await asyncio.sleep(self.reconnect_s)

    def publish(self, payload: str) -> None:
        """Number one notification, keep it in the ring and offer it to every client."""
        try:
            doc = json.loads(payload)
            kind = str(doc.get("type", "message")) if isinstance(doc, dict) else "message"
        except ValueError:
            log.warning("ignoring a %s notification that is not JSON", FEED_CHANNEL)
            return
        self._seq += 1
        kind = kind if kind.isidentifier() else "message"
        event = FeedEvent(self._seq, kind, json.dumps(doc, separators=(",", ":"), ensure_ascii=True))
        self._ring.append(event)
        for client in list(self._clients):
            client.offer(event)

    def subscribe(self, last_event_id: str | None) -> tuple[FeedClient, list[FeedEvent], bool]:
        """Register a client; return it, the events it missed, and whether it must reload (reset).
        Synchronous on purpose: no event can slip between the replay and the registration."""
        replay: list[FeedEvent] = []
        reset = False
        if last_event_id:
            epoch, _, seq_text = last_event_id.strip().partition("-")
            oldest = self._ring[0].seq if self._ring else self._seq + 1
            if epoch != self.epoch or not seq_text.isdigit() or not oldest - 1 <= int(seq_text) <= self._seq:
                reset = True
            else:
                replay = [e for e in self._ring if e.seq > int(seq_text)]
        client = FeedClient(asyncio.Queue(maxsize=self.queue_size))
        self._clients.add(client)
        return client, replay, reset

    def unsubscribe(self, client: FeedClient) -> None:
        self._clients.discard(client)

    def check_capacity(self) -> None:
        if len(self._clients) >= self.max_clients:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "too many live-feed clients",
                                headers={"Retry-After": "5"})

    async def stream(self, last_event_id: str | None) -> AsyncIterator[bytes]:
        # Subscribing here, not in the route, so a client whose stream never starts is never registered.
        client, replay, reset = self.subscribe(last_event_id)
        try:
            yield b"retry: 2000\n: connected\n\n"
            if reset:
                yield b'event: reset\ndata: {"type":"reset","reason":"cannot resume: reload"}\n\n'
            for event in replay:
                yield event.frame(self.epoch)
            while True:
                try:
                    item: FeedEvent | None = await asyncio.wait_for(client.queue.get(), self.heartbeat_s)
                except TimeoutError:
                    yield b": keepalive\n\n"  # keeps proxies from closing an idle stream
                    continue
                if item is None:
                    return
                yield item.frame(self.epoch)
        finally:
            self.unsubscribe(client)


def get_hub(request: Request) -> FeedHub:
    hub = request.app.state.feed
    assert isinstance(hub, FeedHub)
    return hub


async def authenticate(pool: Pool, secret: str | None, role: Role, how: str) -> Token:
    """Verify a secret that came some other way than the bearer header (query, form field)."""
    secret = (secret or "").strip()
    if not secret:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"missing token: send {how}",
                            headers={"WWW-Authenticate": 'Bearer realm="urbanops"'})
    async with pool.connection(timeout=5.0) as conn:  # returned before any stream starts
        try:
            found = await verify_token(conn, secret)
        except TokenError as err:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(err),
                                headers={"WWW-Authenticate": 'Bearer realm="urbanops", error="invalid_token"'}) from err
    if not found.role.allows(role):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs role {role.value} or higher;"
                            f" token {found.id} ({found.name!r}) has role {found.role.value}")
    return found


async def feed_token(
    pool: Pool,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Query(max_length=200, description="For EventSource: it cannot send headers")] = None,
) -> Token:
    secret = creds.credentials if creds else token
    return await authenticate(pool, secret, Role.OPERATOR, "'Authorization: Bearer <token>' or ?token=<token>")


@router.get(
    "/feed",
    summary="Live feed (Server-Sent Events) of incident, ticket and device changes",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "`event: incident|ticket|device|reset`, `id: <epoch>-<seq>`, `data: <json>`"}},
)
async def feed(
    hub: Annotated[FeedHub, Depends(get_hub)],
    token: Annotated[Token, Depends(feed_token)],
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
    last_id: Annotated[str | None, Query(max_length=100, description="Same as the Last-Event-ID header")] = None,
) -> StreamingResponse:
    hub.check_capacity()
    await hub.start()
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(hub.stream(last_event_id or last_id), media_type="text/event-stream", headers=headers)

