"""``urbanops simulate``: run simulated sensors, robots and drones against the broker.

Registered by the CLI as ``app.command("simulate")(simulate)``. Progress goes to stderr,
the summary line (or, with ``--json``, the report as one JSON object) to stdout. The first
Ctrl-C stops cleanly (offline statuses, every PUBACK awaited); a second one aborts.
"""

from __future__ import annotations

import json
import signal
import threading
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from gateway.settings import Settings
from simulators.fleet import FleetConfig, FleetError, FleetProgress, run_fleet
from simulators.scenario import ScenarioError


class Protocol(StrEnum):
    JSON = "json"
    ROS2 = "ros2"


def _fail(console: Console, message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=2)


def simulate(
    sensors: Annotated[int, typer.Option(help="Fixed sensors (air, noise, water, smoke, gas, "
                                              "manhole, bin).")] = 500,
    robots: Annotated[int, typer.Option(help="Cleaning robots.")] = 10,
    drones: Annotated[int, typer.Option(help="Inspection drones.")] = 3,
    rate: Annotated[float, typer.Option(help="Telemetry messages per second per device.")] = 1.0,
    duration: Annotated[float, typer.Option(help="Simulated seconds to run.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Same seed (and start) -> same messages.")] = 7,
    district: Annotated[str, typer.Option(help="District(s), comma-separated: futian, "
                                               "nanshan, luohu.")] = "futian",
    protocol: Annotated[Protocol, typer.Option(help="Payload encoding.")] = Protocol.JSON,
    scenario: Annotated[Path | None, typer.Option(
        help="Scenario YAML (or a built-in name: smoke_and_spill, city_mix, quiet_control, "
             "drone_survey)."
    )] = None,
    truth: Annotated[Path | None, typer.Option(help="Write ground truth here (JSONL).")] = None,
    mqtt_url: Annotated[str | None, typer.Option(
        help="Broker, mqtt://user:pass@host:port (default: URBANOPS_MQTT_URL).")] = None,
    fast: Annotated[bool, typer.Option(
        "--fast", help="Publish as fast as the broker acknowledges instead of in real time "
                       "(timestamps then end now).")] = False,
    speed_factor: Annotated[float, typer.Option(
        help="Robots and drones obey commands on their cmd topic; a commanded task (drive, clean, "
             "fly, hover) runs this many times faster than real time.")] = 1.0,
    frame_interval: Annotated[float, typer.Option(
        help="Patrol camera: each patrolling drone sends a frame of what is under it every S "
             "simulated seconds (~75 ms of rendering each) and flies over the scenario's visual "
             "incidents; 0 = off.", metavar="S")] = 0.0,
    run_id: Annotated[str | None, typer.Option(
        help="msg_id namespace (default: from the start time, so reruns are not deduplicated)."
    )] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run a simulated fleet publishing over MQTT v5 (SPEC §2) until DURATION elapses."""
    err = Console(stderr=True)
    try:
        config = FleetConfig(
            sensors=sensors, robots=robots, drones=drones, rate=rate, duration_s=duration,
            seed=seed, districts=tuple(d.strip() for d in district.split(",") if d.strip()),
            protocol=protocol.value, scenario=scenario,
            truth_path=truth, pace=not fast, run_id=run_id, speed_factor=speed_factor,
            frame_interval_s=frame_interval,
        )
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise _fail(err, problems) from None
    url = mqtt_url or Settings().mqtt_url

    stop = threading.Event()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        err.print("[yellow]stopping: flushing and publishing offline statuses "
                  "(Ctrl-C again to abort)[/yellow]")
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    columns = (
        SpinnerColumn(), TextColumn("[bold]simulate[/bold]"), BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"), TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    try:
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task("simulate", total=config.duration_s, info="connecting")

            def on_progress(p: FleetProgress) -> None:
                bar.update(task, completed=p.t_s, info=(
                    f"{p.acked:,}/{p.sent:,} acked, {p.telemetry:,} telemetry, "
                    f"{p.events} events, {p.msgs_per_s:,.0f} msg/s"))

            report = run_fleet(config, url, stop=stop, progress=on_progress)
    except (FleetError, ScenarioError) as e:
        raise _fail(err, str(e)) from None
    finally:
        signal.signal(signal.SIGINT, previous)
    if json_output:
        typer.echo(json.dumps(report.to_dict()))
    else:
        typer.echo(report.summary())
    if report.unacked or report.rejected:
        raise typer.Exit(code=1)
