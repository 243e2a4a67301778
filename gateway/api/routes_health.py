"""``/healthz`` and ``/metrics``: unauthenticated, for load balancers and Prometheus.

``/metrics`` is deliberately open, like most Prometheus exporters: it holds counters and
latencies, no device data, and a scraper cannot renew expiring API tokens. Where the port
is reachable from untrusted networks, restrict ``/metrics`` at the reverse proxy.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg import Error as PsycopgError
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import State

log = logging.getLogger(__name__)
# A health probe must answer quickly even when the database does not.
DB_PROBE_TIMEOUT_S = 2.0

_METRICS_EXAMPLE = (
    'urbanops_http_requests_total{method="GET",route="/healthz",status="200"} 3.0\n'
)

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "ok", "components": {"database": "ok", "ingest": "ok"}},
                {"status": "degraded", "components": {"database": "down", "ingest": "ok"}},
            ]
        }
    )

    status: Literal["ok", "degraded"] = Field(
        description="`ok` when every component is `ok`, else `degraded`"
    )
    components: dict[str, str] = Field(
        description="Each component's state: `ok`, `degraded` or `down`"
    )


async def _database(state: State) -> str:
    if state.pool is None:
        return "down"
    try:
        async with asyncio.timeout(DB_PROBE_TIMEOUT_S):
            async with state.pool.connection(timeout=DB_PROBE_TIMEOUT_S) as conn:
                await conn.execute("SELECT 1")
    except (PoolTimeout, PsycopgError, TimeoutError) as err:
        log.warning("health: database unreachable: %s", err)
        return "down"
    return "ok"


@router.get(
    "/healthz",
    summary="Liveness and component health",
    description="Always 200 while the process serves HTTP; `status` says whether the"
    " database and the components the gateway reports (ingest, ...) are all `ok`.",
)
async def healthz(state: State) -> HealthOut:
    components = {"database": await _database(state)}
    if state.health is not None:
        try:
            components.update(state.health())
        except Exception:  # a broken probe must not take the health endpoint down
            log.exception("health: component probe failed")
            components["components"] = "degraded"
    overall: Literal["ok", "degraded"] = (
        "ok" if all(v == "ok" for v in components.values()) else "degraded"
    )
    return HealthOut(status=overall, components=components)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"example": _METRICS_EXAMPLE}}}},
)
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
