"""``urbanops edge ...``: an edge site's broker, bridged to the city (gateway/edge/)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway.edge.bridge import EdgeSite, mosquitto_conf

app = typer.Typer(help="Edge sites: a dock's or depot's own broker, bridged to the city's.", no_args_is_help=True)
console = Console(stderr=True)

SiteOpt = Annotated[str, typer.Option(help="The site's name (names its bridge sessions), e.g. lianhuashan-dock.")]
CityOpt = Annotated[str, typer.Option(help="The city broker: mqtt[s]://user:password@host:port.")]
StateOpt = Annotated[Path, typer.Option(help="Where the site broker keeps its queues (must survive restarts).")]
PortOpt = Annotated[int, typer.Option(help="Port the site's devices connect to.")]
DistrictOpt = Annotated[list[str] | None, typer.Option(help="Districts of the site's devices (repeatable).")]
CaOpt = Annotated[Path | None, typer.Option(help="CA file for an mqtts:// city broker.")]
ExtraOpt = Annotated[Path | None, typer.Option(help="More mosquitto.conf lines (password_file, acl_file...).")]


def _site(site: str, city: str, state_dir: Path, port: int, district: list[str] | None, ca_file: Path | None,
          extra: Path | None) -> EdgeSite:
    lines = extra.read_text().splitlines() if extra else []
    return EdgeSite(site, city, state_dir.resolve(), port=port, districts=tuple(district or ["+"]),
                    ca_file=ca_file, extra=lines)


def _check_tcp_retries(path: Path = Path("/proc/sys/net/ipv4/tcp_retries2")) -> None:
    """A bridge that is still sending never waits for a ping: it learns its uplink died only when
    TCP gives up retransmitting, ~15 minutes at Linux's default of 15 retries."""
    try:
        retries = int(path.read_text())
    except (OSError, ValueError):
        return
    if retries > 8:
        console.print(f"[yellow][edge] net.ipv4.tcp_retries2 is {retries}: a silently dead uplink is noticed only "
                      "after minutes; set it to 5 on the site's host (sysctl -w net.ipv4.tcp_retries2=5)[/yellow]")


@app.command()
def config(site: SiteOpt, city: CityOpt, state_dir: StateOpt = Path("edge-state"), port: PortOpt = 1883,
           district: DistrictOpt = None, ca_file: CaOpt = None, extra: ExtraOpt = None) -> None:
    """Print the site broker's mosquitto.conf (to run it under your own service manager)."""
    print(mosquitto_conf(_site(site, city, state_dir, port, district, ca_file, extra)), end="")


@app.command()
def run(site: SiteOpt, city: CityOpt, state_dir: StateOpt = Path("edge-state"), port: PortOpt = 1883,
        district: DistrictOpt = None, ca_file: CaOpt = None, extra: ExtraOpt = None,
        vision: Annotated[bool, typer.Option(help="Also run the vision worker on the site's frames.")] = False,
        local_url: Annotated[str | None, typer.Option(
            help="How the site's own clients (vision worker, uplink watch) log in to the site broker: "
                 "mqtt://USER:PW@127.0.0.1:PORT (urbanops devices provision --site makes the account)")] = None,
        metrics_port: Annotated[int | None, typer.Option(
            help="Serve Prometheus metrics (uplink state, stored messages) on this port.")] = None,
        ) -> None:
    """Run the site broker (and the vision worker) until SIGTERM; log the uplink's state."""
    from gateway.edge.run import EdgeBroker, UplinkWatch
    from gateway.shutdown import wait_for_signal

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    edge = _site(site, city, state_dir, port, district, ca_file, extra)
    broker = EdgeBroker(edge).start()
    local = local_url or f"mqtt://127.0.0.1:{port}"
    watch = UplinkWatch(edge, local).start()
    if metrics_port is not None:
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry()
        registry.register(watch)
        start_http_server(metrics_port, registry=registry)
    worker: subprocess.Popen[bytes] | None = None
    if vision:  # frames from the site broker; observations go up as device events, frames never
        env = {**os.environ, "URBANOPS_MQTT_URL": local}
        worker = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "vision", "worker",
                                   "--client-id", f"{edge.bridge_name}-vision"], env=env)
    console.print(f"[edge] site {site}: devices on port {port}, bridged to {edge.bridge_name} at the city")
    _check_tcp_retries()
    try:
        wait_for_signal(threading.Event())
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        watch.stop()
        broker.stop()
