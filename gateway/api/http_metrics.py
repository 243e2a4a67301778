"""Prometheus request counter and latency histogram as a plain ASGI middleware."""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Labels come from the matched route template, never the raw path, so that ids in URLs
# cannot grow the number of time series without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class HttpInstruments:
    requests: Counter
    latency: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> HttpInstruments:
        """Create the instruments in ``registry`` (once per registry)."""
        return cls(
            requests=Counter(
                "urbanops_http_requests",
                "HTTP requests served by the gateway API",
                ["method", "route", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "urbanops_http_request_duration_seconds",
                "Time to serve an HTTP request, to the end of the response",
                ["method", "route"],
                registry=registry,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            ),
        )


class HttpMetrics:
    """Counts requests by method, route and status and times them by method and route."""

    def __init__(self, app: ASGIApp, instruments: HttpInstruments) -> None:
        self.app = app
        self.requests = instruments.requests
        self.latency = instruments.latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # when the app fails before it starts a response

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(time.perf_counter() - started)
