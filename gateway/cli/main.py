"""``urbanops`` command line (typer). Builds ``Settings`` once and passes it down."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway.cli import bags as cli_bags
from gateway.cli import bench as cli_bench
from gateway.cli import city as cli_city
from gateway.cli import devices as cli_devices
from gateway.cli import edge as cli_edge
from gateway.cli import tokens as cli_tokens
from gateway.cli import triage as cli_triage
from gateway.cli import vision as cli_vision
from gateway.cli.simulate import simulate
from gateway.settings import Settings
from gateway.shutdown import wait_for_signal

app = typer.Typer(help="urbanops: urban operations event platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(cli_triage.app, name="triage")
app.add_typer(cli_bags.app, name="bags")
app.add_typer(cli_tokens.app, name="tokens")
app.add_typer(cli_bench.app, name="bench")
app.add_typer(cli_devices.app, name="devices")
app.add_typer(cli_city.app, name="city")
app.add_typer(cli_vision.app, name="vision")
app.add_typer(cli_edge.app, name="edge")
app.command("simulate", help="Run simulated sensors, robots and drones against the broker.")(simulate)
console = Console(stderr=True)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def gateway(
    no_http: Annotated[bool, typer.Option("--no-http", help="Ingest only, no HTTP API.")] = False,
    client_id: Annotated[str | None, typer.Option(help="MQTT client id (unique per process).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the gateway: MQTT ingest, store upkeep and the HTTP API, until interrupted."""
    from gateway.runtime import GatewayRuntime

    _logging(verbose)
    settings = Settings()
    runtime = GatewayRuntime(settings, http=not no_http, client_id=client_id).start()
    runtime.city.install_sighup()  # kill -HUP reloads the city pack
    console.print(f"gateway running; API at {runtime.url}" if not no_http else "gateway running")
    stop = threading.Event()
    try:
        wait_for_signal(stop)
    finally:
        runtime.stop()


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations to URBANOPS_DATABASE_URL."""
    from gateway.store.migrate import migrate

    applied = migrate(Settings().database_url)
    console.print(f"applied migrations: {applied or 'none (up to date)'}")


@app.command()
def demo(
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    sensors: int = 60,
    robots: int = 4,
    drones: int = 2,
    seed: int = 7,
    state_dir: Annotated[Path, typer.Option(help="Private broker/database lives here.")] = Path(".local/demo"),
) -> None:
    """Start a private broker and database, the gateway and the simulators; print the URL."""
    from gateway.cli.demo import run_demo

    _logging(False)
    run_demo(Settings(), duration_s=duration, sensors=sensors, robots=robots, drones=drones,
             seed=seed, state_dir=state_dir, console=console)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
