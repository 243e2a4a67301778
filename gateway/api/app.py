"""The FastAPI application factory.

The composition root builds one app per process::

    app = create_app(settings, registry=ingest_registry, health=ingest.health)

``registry`` is rendered at ``/metrics`` (the API adds its own HTTP metrics to it, so one
registry serves one app); ``health`` is called on every ``/healthz`` and returns component
states such as ``{"ingest": "ok", "mqtt": "degraded"}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import psycopg
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gateway.api import (
    routes_alerts,
    routes_city,
    routes_dashboard,
    routes_dead_letters,
    routes_devices,
    routes_dispatch,
    routes_feed,
    routes_health,
    routes_incidents,
    routes_ngsi,
    routes_open311,
    routes_telemetry,
    routes_tickets,
    routes_tokens,
)
from gateway.api.deps import ApiState
from gateway.api.http_metrics import HttpInstruments, HttpMetrics
from gateway.api.ratelimit import add_rate_limit
from gateway.city import CityHolder
from gateway.settings import Settings

log = logging.getLogger(__name__)

_DESCRIPTION = """\
Devices, telemetry, dead letters, incidents and tickets of the urbanops gateway, with
standard exports (CAP 1.2, Atom, GeoJSON, FIWARE Alert and an NGSI-LD read view, Open311
GeoReport v2) and a live feed (SSE).

Every `/api/v1` route needs `Authorization: Bearer <token>`. Roles are ordered
`operator` (read) < `manager` (also ticket actions) < `admin` (also devices and tokens).
A missing, unknown, expired or revoked token gets 401; a role too low gets 403.
Create the first admin token with `urbanops tokens create --role admin --name NAME`.
Exceptions: `/api/v1/feed` also takes `?token=` (EventSource cannot send headers); the
Open311 GETs are public, as GeoReport v2 defines them (privacy-safe fields; a bearer token or
`api_key` adds the exact location), and Open311 POST also takes `api_key`; `/ngsi-ld/v1`
needs a bearer token like `/api/v1`.
"""


def _version() -> str:
    try:
        return version("urbanops")
    except PackageNotFoundError:
        return "0.0.0"


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # Timestamps come back as UTC whatever the server's default time zone is.
    await conn.execute("SET TIME ZONE 'UTC'")


def _pool(url: str, settings: Settings, name: str) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max(1, settings.db_pool_size),
        kwargs={"autocommit": True},
        configure=_configure,
        check=AsyncConnectionPool.check_connection,
        name=name,
        open=False,
    )


def _lifespan(state: ApiState, hub: routes_feed.FeedHub) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = state.settings
        pool = _pool(settings.database_url, settings, "api")
        # Do not wait for the database: the API comes up and /healthz says "degraded"
        # until it is reachable, instead of the process failing to start.
        await pool.open(wait=False)
        state.pool = pool
        read_pool = _pool(settings.database_read_url, settings, "api-read") if settings.database_read_url else None
        if read_pool is not None:
            await read_pool.open(wait=False)
            state.read_pool = read_pool
        try:
            yield
        finally:
            await hub.close()  # ends every live-feed stream
            state.pool = state.read_pool = None
            await pool.close()
            if read_pool is not None:
                await read_pool.close()

    return lifespan


async def _db_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "database unavailable, try again shortly"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


class _AsciiJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own 422, rendered as ASCII: the offending input is echoed back, and input
    # such as a lone UTF-16 surrogate cannot be encoded as UTF-8 (a 500 otherwise).
    assert isinstance(exc, RequestValidationError)
    return _AsciiJSONResponse(
        {"detail": jsonable_encoder(exc.errors())},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def create_app(
    settings: Settings,
    *,
    registry: CollectorRegistry | None = None,
    health: Callable[[], dict[str, str]] | None = None,
    city: CityHolder | None = None,
) -> FastAPI:
    """Build the HTTP API and dashboard; the DB pool opens and closes with the lifespan.

    ``city``: the gateway's city pack holder (shared with triage and vision, so one reload
    reaches all of them); None reads ``settings.city_dir`` for this app alone.
    """
    state = ApiState(settings=settings, registry=registry or CollectorRegistry(), health=health,
                     city=city or CityHolder(settings.city_dir))
    hub = routes_feed.FeedHub(settings.database_url)
    app = FastAPI(
        title="urbanops",
        version=_version(),
        description=_DESCRIPTION,
        lifespan=_lifespan(state, hub),
        openapi_tags=[
            {"name": "health", "description": "Liveness, component health, Prometheus"},
            {"name": "devices", "description": "The device registry"},
            {"name": "telemetry", "description": "Time-bucketed device metrics"},
            {"name": "dead letters", "description": "Input the gateway refused, and why"},
            {"name": "tokens", "description": "API tokens (admin)"},
            {"name": "incidents", "description": "Correlated incidents, their observations and evidence"},
            {"name": "tickets", "description": "The emergency managers' ticket queue and actions"},
            {"name": "alerts", "description": "CAP 1.2, Atom, GeoJSON, FIWARE Alert and NGSI-LD exports; map layers"},
            {"name": "feed", "description": "Live feed of incident, ticket and device changes (SSE)"},
            {"name": "open311", "description": "Open311 GeoReport v2 for citizen reports"},
            {"name": "city", "description": "The city pack: districts, agencies, SLA, plans; reload (admin)"},
        ],
    )
    app.state.api = state
    app.state.feed = hub
    add_rate_limit(app, rate_per_s=settings.api_rate_per_s, burst=settings.api_rate_burst,
                   fail_burst=settings.api_auth_fail_burst)
    app.add_middleware(HttpMetrics, instruments=HttpInstruments.register(state.registry))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(PoolTimeout, _db_unavailable)
    app.add_exception_handler(psycopg.OperationalError, _db_unavailable)

    # Routers carry their full path (API_PREFIX included), so the route templates that
    # label the HTTP metrics are the public paths.
    for module in (routes_health, routes_devices, routes_telemetry, routes_dead_letters,
                   routes_tokens, routes_alerts, routes_incidents, routes_tickets, routes_feed,
                   routes_open311, routes_dispatch, routes_ngsi, routes_city):
        app.include_router(module.router)
    routes_dashboard.mount(app)
    return app
