"""Token-bucket rate limiting for the HTTP API, as a plain ASGI middleware.

Install it from ``create_app`` (before ``HttpMetrics``, so the 429s are counted there)::

    add_rate_limit(app, rate_per_s=settings.api_rate_per_s, burst=settings.api_rate_burst)

Who is limited:
- A request with a token (bearer header, or ``?token=``/``?api_key=``) spends from that
  token's bucket (keyed by a hash of the secret, never the secret itself); one without
  spends from its client address's bucket.
  So many operators behind one proxy do not starve each other, and one busy script cannot
  starve the rest.
- A request refused with 401 also spends from its address's *failure* bucket. When that is
  empty, the address gets 429 for every token not seen accepted recently: guessing tokens
  (or rotating random ones to dodge the per-token bucket) is throttled, while good tokens
  from the same address keep working.

A refused request gets ``429`` with ``Retry-After`` (whole seconds) and a JSON ``detail``;
nothing behind the middleware runs, so it costs no database work. State lives in memory per
process (buckets for at most ``max_keys`` clients, least recently used dropped first).
Behind a reverse proxy run uvicorn with ``--proxy-headers`` so the address is the client's.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_EXEMPT = ("/healthz",)  # probes must never be throttled into "unhealthy"


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Buckets of ``burst`` tokens refilled at ``rate_per_s``, one per key, LRU-bounded.

    Not locked: the ASGI event loop calls it from one thread, and nothing here awaits.
    """

    def __init__(self, rate_per_s: float, burst: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate = rate_per_s
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def _bucket(self, key: str) -> Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = Bucket(self.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend ``cost``; return 0 when allowed, else the seconds until it would be."""
        bucket = self._bucket(key)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def peek(self, key: str, cost: float = 1.0) -> float:
        """Like ``take`` without spending."""
        bucket = self._bucket(key)
        return 0.0 if bucket.tokens >= cost else (cost - bucket.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def _token_key(scope: Scope) -> str | None:
    """A hash of the presented token: the bearer header, else ``?token=`` (the SSE feed) or
    ``?api_key=`` (Open311). A key in a form body is not read here (that would consume it)."""
    secret = b""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, rest = value.partition(b" ")
            if scheme.lower() == b"bearer":
                secret = rest.strip()
    if not secret:
        for field, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            if field in ("token", "api_key") and value.strip():
                secret = value.strip().encode("latin-1")
                break
    return "t:" + hashlib.sha256(secret).hexdigest()[:32] if secret else None


class RateLimit:
    """The ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp, *, rate_per_s: float, burst: int, fail_rate_per_s: float = 0.2,
                 fail_burst: int = 20, exempt: Iterable[str] = DEFAULT_EXEMPT, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.requests = TokenBuckets(rate_per_s, burst, max_keys=max_keys, clock=clock)
        self.failures = TokenBuckets(fail_rate_per_s, fail_burst, max_keys=max_keys, clock=clock)
        self.exempt = frozenset(exempt)
        # Tokens recently accepted (any response but 401): spared the address's failure limit.
        self._good: OrderedDict[str, None] = OrderedDict()
        self.max_keys = max_keys
        self.limited = 0  # requests answered 429, for tests and logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = "a:" + (client[0] if client else "unknown")
        token = _token_key(scope)
        wait = 0.0
        if token is not None and token not in self._good:
            wait = self.failures.peek(address)
        if not wait:
            wait = self.requests.take(token or address)
        if wait:
            self.limited += 1
            await _too_many(send, wait)
            return

        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if status == 401:
            self.failures.take(address)
            if token is not None:
                self._good.pop(token, None)
        elif token is not None and status:
            self._good[token] = None
            self._good.move_to_end(token)
            if len(self._good) > self.max_keys:
                self._good.popitem(last=False)


async def _too_many(send: Send, wait_s: float) -> None:
    retry = max(1, math.ceil(wait_s))
    body = json.dumps({"detail": f"rate limit exceeded; retry in {retry} s"}).encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry).encode())]})
    await send({"type": "http.response.body", "body": body})


def add_rate_limit(app: Starlette, *, rate_per_s: float = 20.0, burst: int = 60, fail_rate_per_s: float = 0.2,
                   fail_burst: int = 20, exempt: Iterable[str] = DEFAULT_EXEMPT) -> None:
    """Install ``RateLimit`` on a FastAPI/Starlette ``app`` (call before the app starts)."""
    app.add_middleware(RateLimit, rate_per_s=rate_per_s, burst=burst, fail_rate_per_s=fail_rate_per_s,
                       fail_burst=fail_burst, exempt=tuple(exempt))
