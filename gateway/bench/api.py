"""``bench api``: the HTTP API under load — live-feed clients plus a steady request rate.

``run_api_bench(duration_s, clients, rps)`` is self-contained: it starts a private
PostgreSQL+TimescaleDB, migrates it, seeds incidents and an operator token, serves the real
app with uvicorn (in a thread of this process) and drives it from a second process, so the
client's own work (200 streams to parse) never waits on the server's interpreter lock and the
latencies are the server's; then, for ``duration_s``:

- keeps ``clients`` Server-Sent-Events streams open on ``GET /api/v1/feed``;
- sends ``rps`` requests per second (open loop: a request is started on schedule whether or
  not earlier ones have finished) to ``GET /api/v1/incidents``;
- a few times, sends ``NOTIFY urbanops_feed`` and records when each stream got that event.

It returns JSON-able figures: API latency percentiles, feed delivery latency (per client,
and until *every* client had the event), and every kind of error counted. The rate limiter
is raised far above the offered load so it does not shape the measurement.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from psycopg.types.json import Jsonb
from starlette.types import ASGIApp

from gateway.api import create_app
from gateway.local_services import Postgres, free_port
from gateway.security.auth import hash_secret, new_secret
from gateway.settings import Settings
from gateway.store.migrate import migrate
from gateway.store.observations import FEED_CHANNEL

INCIDENTS_PATH = "/api/v1/incidents"
FEED_PATH = "/api/v1/feed"
DISTRICTS = ("futian", "nanshan", "luohu", "baoan")
CATEGORIES = ("fire", "flood", "road_hazard", "traffic")
SEVERITIES = ("low", "medium", "high", "critical")


@contextmanager
def serve(app: ASGIApp, *, start_timeout_s: float = 20.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free local port in a daemon thread; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=2, backlog=4096)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-bench", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def bench_settings(database_url: str, data_dir: Path) -> Settings:
    """Settings from arguments only, with the rate limiter far above any load a bench offers."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=database_url, data_dir=data_dir,
        api_rate_per_s=1_000_000.0, api_rate_burst=1_000_000)


def seed_incidents(database_url: str, count: int) -> None:
    """Insert ``count`` open incidents spread over districts, categories and severities."""
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        incident_id = f"inc-bench-{i:05d}"
        ts = now - timedelta(seconds=i * 7)
        rows.append((incident_id, DISTRICTS[i % len(DISTRICTS)], CATEGORIES[i % len(CATEGORIES)],
                     SEVERITIES[i % len(SEVERITIES)], "open", ts, ts, 22.53 + (i % 50) * 1e-3,
                     114.05 + (i % 40) * 1e-3, ["metro"],
                     Jsonb({"incident_id": incident_id, "district": DISTRICTS[i % len(DISTRICTS)],
                            "observations": []})))
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO incidents (incident_id, district, category, severity, status, opened_at, updated_at,"
            " lat, lon, place_tags, observation_count, body) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,1,%s)", rows)


def create_token(database_url: str, role: str, name: str) -> str:
    """Insert an API token row; return its secret."""
    secret = new_secret()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO api_tokens (name, role, token_hash) VALUES (%s, %s, %s)",
                     (name, role, hash_secret(secret)))
    return secret


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


@dataclass
class _Run:
    clients: int
    connected: int = 0
    all_connected: asyncio.Event = field(default_factory=asyncio.Event)
    feed_errors: list[str] = field(default_factory=list)
    # bench_seq -> arrival times (perf_counter), one per client that got it
    arrivals: dict[int, list[float]] = field(default_factory=dict)
    sent_at: dict[int, float] = field(default_factory=dict)
    api_latencies: list[float] = field(default_factory=list)
    api_errors: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def _feed_client(http: httpx.AsyncClient, url: str, token: str, run: _Run) -> None:
    seen_connected = False
    try:
        async with http.stream("GET", url + FEED_PATH, headers={"Authorization": f"Bearer {token}"}) as resp:
            if resp.status_code != 200:
                run.feed_errors.append(f"feed status {resp.status_code}")
                return
            async for line in resp.aiter_lines():
                if not seen_connected and line.startswith(": connected"):
                    seen_connected = True
                    run.connected += 1
                    if run.connected >= run.clients:
                        run.all_connected.set()
                elif line.startswith("data:"):
                    arrived = time.perf_counter()
                    doc = json.loads(line[5:])
                    if isinstance(doc, dict) and doc.get("type") == "bench":
                        run.arrivals.setdefault(int(doc["bench_seq"]), []).append(arrived)
        if not run.stop.is_set():
            run.feed_errors.append("feed stream ended early")
    except asyncio.CancelledError:
        raise
    except Exception as err:  # every failure is a counted error, not a crash
        if not run.stop.is_set():
            run.feed_errors.append(f"feed {type(err).__name__}: {err}")


async def _one_request(http: httpx.AsyncClient, url: str, token: str, i: int, run: _Run) -> None:
    params = {"limit": "50"}
    if i % 3 == 1:
        params["district"] = DISTRICTS[i % len(DISTRICTS)]
    elif i % 3 == 2:
        params["severity"] = SEVERITIES[i % len(SEVERITIES)]
    started = time.perf_counter()
    try:
        resp = await http.get(url + INCIDENTS_PATH, params=params, headers={"Authorization": f"Bearer {token}"})
        body = resp.json() if resp.status_code == 200 else None
    except Exception as err:  # counted as an error
        run.api_errors.append(f"{type(err).__name__}: {err}")
        return
    elapsed = time.perf_counter() - started
    if resp.status_code != 200 or body is None:
        run.api_errors.append(f"status {resp.status_code}")
        return
    run.api_latencies.append(elapsed)


async def _drive(url: str, database_url: str, token: str, duration_s: float, clients: int, rps: float,
                 notifies: int) -> dict[str, Any]:
    run = _Run(clients=clients)
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    feed_timeout = httpx.Timeout(30.0, read=None)
    async with httpx.AsyncClient(limits=limits, timeout=feed_timeout) as feed_http, \
            httpx.AsyncClient(limits=httpx.Limits(max_connections=200), timeout=10.0) as api_http, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as notifier:
        streams = [asyncio.create_task(_feed_client(feed_http, url, token, run)) for _ in range(clients)]
        connect_started = time.perf_counter()
        try:
            await asyncio.wait_for(run.all_connected.wait(), timeout=60.0)
        except TimeoutError:
            run.feed_errors.append(f"only {run.connected} of {clients} feed clients connected in 60 s")
        connect_s = time.perf_counter() - connect_started

        total = max(1, int(duration_s * rps))
        notify_at = {int(total * (k + 1) / (notifies + 1)): k for k in range(notifies)}
        requests: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        for i in range(total):
            delay = start + i / rps - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            requests.append(asyncio.create_task(_one_request(api_http, url, token, i, run)))
            if i in notify_at:
                seq = notify_at[i]
                payload = json.dumps({"type": "bench", "bench_seq": seq, "sent": time.time()})
                run.sent_at[seq] = time.perf_counter()
                await notifier.execute("SELECT pg_notify(%s, %s)", (FEED_CHANNEL, payload))
        await asyncio.gather(*requests)
        elapsed = time.perf_counter() - start
        # Let the last notification reach everyone (bounded), then end the streams.
        grace_end = time.perf_counter() + 10.0
        while time.perf_counter() < grace_end and any(
                len(run.arrivals.get(seq, [])) < run.connected for seq in run.sent_at):
            await asyncio.sleep(0.05)
        run.stop.set()
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)

    per_client = [t - run.sent_at[seq] for seq, times in run.arrivals.items() for t in times]
    until_all = [max(run.arrivals[seq]) - run.sent_at[seq] for seq in run.sent_at
                 if len(run.arrivals.get(seq, [])) >= clients]
    expected = clients * len(run.sent_at)
    delivered = sum(len(v) for v in run.arrivals.values())
    return {
        "duration_s": round(elapsed, 2),
        "clients": clients,
        "feed_clients_connected": run.connected,
        "feed_connect_s": round(connect_s, 2),
        "rps_target": rps,
        "requests": len(run.api_latencies) + len(run.api_errors),
        "rps_achieved": round((len(run.api_latencies) + len(run.api_errors)) / elapsed, 2),
        "api_errors": len(run.api_errors),
        "api_p50_ms": _ms(percentile(run.api_latencies, 50)),
        "api_p95_ms": _ms(percentile(run.api_latencies, 95)),
        "api_p99_ms": _ms(percentile(run.api_latencies, 99)),
        "api_max_ms": _ms(max(run.api_latencies, default=None)),
        "feed_notifies": len(run.sent_at),
        "feed_deliveries_expected": expected,
        "feed_deliveries": delivered,
        "feed_missed": expected - delivered,
        "feed_errors": len(run.feed_errors),
        "feed_p50_ms": _ms(percentile(per_client, 50)),
        "feed_p95_ms": _ms(percentile(per_client, 95)),
        "feed_p99_ms": _ms(percentile(per_client, 99)),
        "feed_all_clients_max_ms": _ms(max(until_all, default=None)),
        "feed_all_clients_ms": [_ms(v) for v in until_all],
        "errors": len(run.api_errors) + len(run.feed_errors) + (expected - delivered),
        "error_samples": (run.api_errors + run.feed_errors)[:5],
    }


def drive(url: str, database_url: str, token: str, duration_s: float, clients: int, rps: float,
          notifies: int) -> dict[str, Any]:
    """The load generator's process entry point (top level, so a spawned process can run it)."""
    return asyncio.run(_drive(url, database_url, token, duration_s, clients, rps, notifies))


def run_api_bench(duration_s: float, clients: int, rps: float, *, notifies: int = 5,
                  incidents: int = 500) -> dict[str, Any]:
    """Load the real app for ``duration_s``: ``clients`` live-feed streams and ``rps`` incident
    list requests per second; return latency figures and error counts (see the module doc)."""
    if duration_s <= 0 or clients < 1 or rps <= 0:
        raise ValueError("duration_s and rps must be > 0 and clients >= 1")
    base = Path(os.environ.get("URBANOPS_TEST_TMP", tempfile.gettempdir()))
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="urbanops-bench-api-", dir=base) as tmp:
        os.chmod(tmp, 0o755)  # the postgres account must reach its data dir below
        pg = Postgres(Path(tmp) / "postgres").start()
        try:
            migrate(pg.url)
            seed_incidents(pg.url, incidents)
            token = create_token(pg.url, "operator", "bench-api")
            data_dir = Path(tmp) / "data"
            data_dir.mkdir()
            app = create_app(bench_settings(pg.url, data_dir))
            with serve(app) as url, ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                figures = pool.submit(drive, url, pg.url, token, duration_s, clients, rps, notifies).result()
        finally:
            pg.destroy()
    figures["incidents_seeded"] = incidents
    figures["server"] = "uvicorn, 1 process; load from a second process"
    figures["cpus"] = os.cpu_count()
    return figures
