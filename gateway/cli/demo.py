"""``urbanops demo``: the whole platform on this machine with simulated devices.

Starts a private Mosquitto and PostgreSQL+TimescaleDB under ``state_dir`` (own ports; both
stopped on exit, data kept so a re-run is fast), migrates, starts the gateway, creates
sign-in tokens, runs the simulators with a scenario, and prints the dashboard URL.

The loop is closed: dispatch runs with the auto policy for sanitation, the simulated robots and
drones obey their commands (time ×``SPEED_FACTOR`` while on a task, so a minute's demo sees a
task end), and each dispatch step is printed as it is recorded (``_print_dispatch``).

Vision is on when its model can run here (``_vision_available``): the patrolling drones then send a
frame a second (``FRAME_INTERVAL_S``) and fly over the scenario's visual incidents, so the feed shows
vision observations (the fallen tree after about a minute, the garbage after about five).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console

from citypack import CityPack
from gateway.local_services import free_port, private_services
from gateway.security.auth import Role, create_token
from gateway.settings import Settings
from gateway.store.migrate import migrate

SCENARIO = Path(__file__).resolve().parents[2] / "simulators" / "scenarios" / "smoke_and_spill.yaml"
SPEED_FACTOR = 10.0  # robot-01's spill (at 30 s) is cleaned and its ticket resolved within ~30 s
# One frame per telemetry tick: a drone reaching a patrol waypoint (a scenario's incident) is
# photographed right over it. Two drones cost ~0.15 core of rendering plus the detector's share.
FRAME_INTERVAL_S = 1.0
DISPATCH_STEPS = ("dispatch_proposed", "dispatch_sent", "dispatch_acked", "dispatch_progress", "dispatch_done",
                  "dispatch_failed", "dispatch_released", "dispatch_waiting", "verify_result", "resolve")


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


async def _tokens(database_url: str) -> dict[str, str]:
    out = {}
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for role in (Role.ADMIN, Role.MANAGER, Role.OPERATOR):
            issued = await create_token(conn, name=f"demo-{role.value}", role=role,
                                        expires_at=datetime.now(UTC) + timedelta(days=1))
            out[role.value] = issued.secret
    return out


def _describe(action: str, d: dict[str, Any]) -> str:
    who = d.get("device_id") or "no device yet"
    return {
        "dispatch_proposed": f"{d.get('kind', 'robot')} proposed for {d.get('action')} ({d.get('policy')}): {who}",
        "dispatch_sent": f"{who} sent to {d.get('action')}, {d.get('distance_m')} m away",
        "dispatch_acked": f"{who} acknowledged in {d.get('ack_s')} s",
        "dispatch_progress": f"{who} {d.get('pct')} % of the way",
        "dispatch_done": f"{who} done: {d.get('text')}",
        "verify_result": f"drone verdict {d.get('outcome')}: certainty {d.get('certainty')}",
        "resolve": "ticket resolved by the robot's report",
    }.get(action, f"{action}: {d.get('reason') or d.get('text') or who}")


def _print_dispatch(database_url: str, stop: threading.Event, console: Console) -> None:
    """Print each dispatch step of this run as the dispatcher records it (polls ticket_history)."""
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute("SELECT coalesce(max(id), 0) FROM ticket_history").fetchone()
            last = int(row[0]) if row else 0  # the data dir keeps earlier runs: only new steps
            while not stop.wait(1.0):
                for hid, ticket_id, action, details in conn.execute(
                        "SELECT h.id, h.ticket_id, h.action, h.details FROM ticket_history h"
                        " WHERE h.id > %s AND h.action = ANY(%s) ORDER BY h.id", (last, list(DISPATCH_STEPS))):
                    last = hid
                    console.print(f"  [cyan]dispatch[/] {ticket_id}: {_describe(action, details)}", highlight=False,
                                  soft_wrap=True)
    except psycopg.Error as err:  # the demo goes on without its printout
        console.print(f"  [yellow]dispatch printout stopped: {err}[/]")


def _vision_available(settings: Settings) -> bool:
    """The detector's weights and runtime are installed (both are optional extras)."""
    from gateway.vision_link.sink import DEFAULT_WEIGHTS

    weights = settings.yolo_weights or DEFAULT_WEIGHTS
    return weights.is_file() and importlib.util.find_spec("ultralytics") is not None


def demo_scenario(pack: CityPack) -> tuple[Path | None, tuple[str, ...]]:
    """The pack's own ``scenarios/demo.yaml`` over all its districts, else the built-in one in futian
    (a pack without futian and without a scenario gets random events in every district)."""
    own = pack.directory / "scenarios" / "demo.yaml"
    if own.is_file():
        return own, tuple(pack.districts)
    if "futian" in pack.districts:
        return SCENARIO, ("futian",)
    return None, tuple(pack.districts)


def run_demo(settings: Settings, *, duration_s: float | None, sensors: int, robots: int, drones: int,
             seed: int, state_dir: Path, console: Console) -> None:
    from gateway.runtime import GatewayRuntime
    from gateway.shutdown import wait_for_signal
    from simulators.config import FleetConfig
    from simulators.fleet import run_fleet

    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o755)  # the postgres account must reach its data dir below
    with private_services(state_dir, keep=True) as (broker, db):
        port = settings.http_port if _port_free(settings.http_host, settings.http_port) else free_port()
        vision = settings.vision_enabled or _vision_available(settings)
        auto = {c.strip() for c in settings.dispatch_auto_categories.split(",") if c.strip()} | {"sanitation"}
        settings = settings.model_copy(update={
            "mqtt_url": broker.url, "database_url": db.url, "http_port": port,
            "data_dir": state_dir / "data",
            # The closed loop is part of the demo: a sanitation ticket sends a robot by itself.
            "dispatch_enabled": True, "dispatch_auto_categories": ",".join(sorted(auto)),
            "vision_enabled": vision,
        })
        migrate(settings.database_url)
        runtime = GatewayRuntime(settings).start(migrate_first=False)
        runtime.city.install_sighup()
        stop = threading.Event()
        try:
            tokens = asyncio.run(_tokens(settings.database_url))
            console.print(f"[bold green]urbanops demo running[/] — dashboard: [bold]{runtime.url}/[/]")
            for role, secret in tokens.items():
                console.print(f"  sign in as {role:<8} with token: {secret}")
            console.print(f"  broker {broker.url}  database {db.url}")
            console.print(f"  vision on: drones send a patrol frame every {FRAME_INTERVAL_S:g} s" if vision
                          else "  vision off (install the vision extra for patrol frames)")
            fleet_s = duration_s if duration_s is not None else 24 * 3600.0
            scenario, districts = demo_scenario(runtime.city.pack)
            console.print(f"  city {runtime.city.pack.id}: simulated devices in {', '.join(districts)}")
            config = FleetConfig(sensors=sensors, robots=robots, drones=drones, seed=seed,
                                 duration_s=fleet_s, scenario=scenario, speed_factor=SPEED_FACTOR,
                                 city_dir=settings.city_dir, districts=districts,
                                 truth_path=state_dir / "ground_truth.jsonl",
                                 frame_interval_s=FRAME_INTERVAL_S if vision else 0.0)
            fleet = threading.Thread(
                target=lambda: run_fleet(config, broker.url, stop=stop), name="simulators", daemon=True)
            fleet.start()
            threading.Thread(target=_print_dispatch, args=(settings.database_url, stop, console),
                             name="dispatch-printout", daemon=True).start()
            console.print("simulators publishing; Ctrl-C to stop"
                          + (f" (stops by itself after {duration_s:.0f}s)" if duration_s else ""))
            wait_for_signal(stop, duration_s)
            fleet.join(30)
        finally:
            runtime.stop()
        console.print(f"demo stopped; ingest: {runtime.ingest.stats.rows} rows in "
                      f"{runtime.ingest.stats.batches} batches; data kept in {state_dir}")
