"""``urbanops bench e2e``: planted incidents through the real broker, gateway and database.

A private Mosquitto and PostgreSQL+TimescaleDB, one gateway process as deployed (ingest, triage
with its default backend, dispatch, the HTTP API, and vision when its extra is installed), the
scenario of ``bench_e2e_plan`` played in real time by ``bench_e2e_drive`` and the API watched by
``bench_e2e_watch``; ``bench_e2e_score`` scores the tickets against the ground truth.

Beside the figures, ``stages`` splits each planted incident's latency along the path with the
database's own times: first sign -> its observation stored (ingest batch and observation
extraction, the vision worker, or the Open311 insert) -> its ticket created (the triage
service's claim poll and assessment) -> readable in the API (feed notification and the reads).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from gateway.bench.e2e_drive import Driver, render_frames
from gateway.bench.e2e_plan import Plan, build_plan
from gateway.bench.e2e_score import linker, percentile, score
from gateway.bench.e2e_watch import Linker, SeenTicket, TicketWatcher
from gateway.local_services import Mosquitto, Postgres, free_port, stop_process
from gateway.security.auth import Role, create_token
from gateway.store.migrate import migrate

Progress = Callable[[str], None]


def vision_available() -> bool:
    """The vision extra is installed (``gateway.vision_link.sink`` itself needs OpenCV) with its weights."""
    if importlib.util.find_spec("ultralytics") is None or importlib.util.find_spec("cv2") is None:
        return False
    from gateway.vision_link.sink import DEFAULT_WEIGHTS

    return DEFAULT_WEIGHTS.is_file()


async def _tokens(url: str) -> tuple[str, str]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        expires = datetime.now(UTC) + timedelta(hours=2)
        # Two clients, two rate-limit buckets: the dashboard that watches, the app that reports.
        watch = await create_token(conn, name="e2e-dashboard", role=Role.OPERATOR, expires_at=expires)
        report = await create_token(conn, name="e2e-citizen-app", role=Role.OPERATOR, expires_at=expires)
        return watch.secret, report.secret


def _start_gateway(broker: Mosquitto, db: Postgres, port: int, root: Path, vision: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "URBANOPS_MQTT_URL": broker.url, "URBANOPS_DATABASE_URL": db.url,
           "URBANOPS_HTTP_PORT": str(port), "URBANOPS_DATA_DIR": str(root / "data"),
           "URBANOPS_VISION_ENABLED": "true" if vision else "false", "URBANOPS_MQTT_SHARE_GROUP": ""}
    log = open(root / "gateway.log", "wb")  # noqa: SIM115 - owned by the child
    return subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "gateway", "--client-id", "e2e-gateway"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def _metrics(api: str) -> dict[str, float]:
    try:
        text = httpx.get(f"{api}/metrics", timeout=5.0).text
    except httpx.HTTPError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def _wait(what: str, ok: Callable[[], bool], timeout_s: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not ok():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"gateway not ready ({what}) after {timeout_s:.0f}s:\n{tail}")
        time.sleep(0.2)


def _vision_failure(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if "vision disabled" in ln]
    return lines[-1][-300:] if lines else "see the gateway log"


def _count(url: str, sql: str, *args: Any) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, args).fetchone()
        return int(row[0]) if row and row[0] is not None else 0


def _stages(db_url: str, tickets: list[SeenTicket], link: Linker, wall: dict[str, datetime]
            ) -> dict[str, dict[str, float | None]]:
    """Per planted incident: seconds to its observation stored, to its ticket created, to readable."""
    out: dict[str, dict[str, float | None]] = {}
    with psycopg.connect(db_url) as conn:
        for t in tickets:
            created = conn.execute("SELECT created_at FROM tickets WHERE ticket_id = %s", (t.ticket_id,)).fetchone()
            for planted in t.links:
                sign = wall.get(planted)
                ids = [o["observation_id"] for o in t.observations if planted in link([o])]
                row = conn.execute("SELECT min(received_at) FROM observations WHERE observation_id = ANY(%s)",
                                   (ids,)).fetchone()
                if sign is None or row is None or row[0] is None or created is None or planted in out:
                    continue
                stored = (row[0] - sign).total_seconds()
                ticketed = (max(created[0], row[0]) - sign).total_seconds()
                out[planted] = {"observation_stored_s": round(stored, 3), "ticket_created_s": round(ticketed, 3)}
    return out


def _stage_summary(stages: dict[str, dict[str, float | None]], plan: Plan, rows: dict[str, Any]
                   ) -> dict[str, dict[str, float | None]]:
    summary: dict[str, dict[str, float | None]] = {}
    for source in ("sensor", "robot", "citizen", "vision"):
        ids = [i.incident_id for i in plan.incidents if i.source == source and i.incident_id in stages]
        stored = [float(stages[i]["observation_stored_s"] or 0) for i in ids]
        ticketed = [float(stages[i]["ticket_created_s"] or 0) for i in ids]
        readable = [rows[i]["latency_s"] for i in ids if rows[i]["latency_s"] is not None]
        summary[source] = {"observation_stored_p50_s": percentile(stored, 0.5),
                           "ticket_created_p50_s": percentile(ticketed, 0.5),
                           "readable_p50_s": percentile(readable, 0.5)}
    return summary


def run_e2e_bench(duration_s: float = 60.0, drain_s: float = 30.0, vision: bool | None = None,
                  progress: Progress | None = None) -> dict[str, Any]:
    say = progress or (lambda _t: None)
    use_vision = vision_available() if vision is None else vision
    plan = build_plan(duration_s, drones=2, vision=use_vision)
    say(f"scenario: {len(plan.incidents)} incidents after a {plan.quiet_s:.0f} s quiet control, "
        f"{len(plan.devices)} devices, vision {'on' if use_vision else 'off'}")
    t0 = time.perf_counter()
    frames = render_frames(plan) if use_vision else {}
    say(f"rendered {len(frames)} patrol frames in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory(prefix="urbanops-e2e-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)  # the postgres account must reach its data dir below
        broker = Mosquitto(root / "mqtt").start()
        db = Postgres(root / "pg")
        proc: subprocess.Popen[bytes] | None = None
        try:
            db.start()
            migrate(db.url)
            watch_token, report_token = asyncio.run(_tokens(db.url))
            port = free_port()
            api = f"http://127.0.0.1:{port}"
            proc = _start_gateway(broker, db, port, root, use_vision)
            log = root / "gateway.log"
            say("waiting for the gateway (HTTP API, model loads)")
            _wait("HTTP", lambda: bool(_metrics(api)), 180, proc, log)
            if use_vision:
                _wait("vision model", lambda: _metrics(api).get("urbanops_vision_ready") == 1.0, 300, proc, log)
            driver = Driver(plan, broker.port, api, report_token, frames, uuid.uuid4().hex[:8])
            driver.announce()  # retained statuses: once all are stored the subscriptions are live
            _wait("subscribed", lambda: _count(db.url, "SELECT count(*) FROM devices WHERE device_id LIKE %s", "e2e-%")
                  >= len(plan.devices), 60, proc, log)
            link = linker(plan, driver.request_ids)  # reads request_ids as the POSTs fill it in
            watcher = TicketWatcher(api, watch_token, link).start()
            if not watcher.feed_connected.wait(30):
                raise RuntimeError("live feed did not connect")
            say(f"playing {duration_s:.0f} s (quiet control {plan.quiet_s:.0f} s)")
            driver.run(say)
            quiet_end = driver.started_at + timedelta(seconds=plan.quiet_s)
            say("waiting for the last tickets")
            planted = {i.incident_id for i in plan.incidents}
            deadline = time.monotonic() + drain_s
            while time.monotonic() < deadline:
                linked = {p for t in watcher.snapshot() for p in t.links}
                if planted <= linked and _count(db.url, "SELECT count(*) FROM triage_inbox") == 0:
                    break
                time.sleep(0.2)
            time.sleep(3.0)  # a late duplicate or false ticket still counts
            gateway_stats = {k.removeprefix("urbanops_"): v for k, v in _metrics(api).items()
                             if k.startswith(("urbanops_vision_", "urbanops_triage_", "urbanops_frames_"))}
            with psycopg.connect(db.url) as conn:
                dead = {str(r[0])[:120]: int(r[1]) for r in conn.execute(
                    "SELECT reason, count(*) FROM dead_letters GROUP BY reason ORDER BY 2 DESC LIMIT 5")}
            if use_vision and gateway_stats.get("vision_processed", 0) == 0:
                # Ready but refusing frames: its model failed to load (the log says why).
                driver.errors.append("vision took no frame: " + _vision_failure(log))
            watcher.stop()
            unacked = driver.close()
            tickets = watcher.snapshot()
            result = score(plan, tickets, driver.first_sign, quiet_end)
            stages = _stages(db.url, tickets, link, driver.first_sign_wall)
            for iid, st in stages.items():
                result["incidents"][iid].update(st)
            result["stages_p50"] = _stage_summary(stages, plan, result["incidents"])
        finally:
            stop_process(proc, 30)
            broker.stop()
            db.destroy()
    result.update({
        "duration_s": duration_s, "quiet_s": plan.quiet_s, "vision": use_vision,
        "devices": len(plan.devices), "messages_published": driver.published, "unacked": unacked,
        "frames": len(frames), "driver_errors": driver.errors, "watcher_errors": watcher.errors,
        "feed_events": watcher.feed_events, "gateway": gateway_stats, "dead_letters": dead,
    })
    return result
