"""``urbanops devices``: broker accounts for field devices, and TLS material for the broker.

``provision`` writes Mosquitto's password and ACL files (see ``gateway.security.provision``); the new
passwords go only to ``credentials.jsonl`` (mode 0600), never to the terminal. ``tls-certs``
makes a self-signed CA, a server certificate and the listener lines (``gateway.security.tls``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from devices.topics import Kind, TopicError
from gateway.security.provision import ProvisionError, provision
from gateway.security.tls import DEFAULT_HOSTS, TLS_PORT, TlsError, make_certs

app = typer.Typer(help="Device broker accounts (Mosquitto passwords and ACLs) and TLS certificates.",
                  no_args_is_help=True)
console = Console(stderr=True)
DEFAULT_OUT = Path(".local/mqtt-auth")


@app.command("provision")
def provision_cmd(
    kind: Annotated[Kind, typer.Option(help="drone, robot or sensor")],
    district: Annotated[str, typer.Option(help="District the devices serve, e.g. futian")],
    count: Annotated[int, typer.Option(min=1, max=100_000, help="How many devices to add")] = 1,
    out: Annotated[Path, typer.Option(help="Directory of passwd, acl, devices.json, credentials.jsonl")] = DEFAULT_OUT,
    prefix: Annotated[str | None, typer.Option(help="Device id prefix (default KIND-DISTRICT)")] = None,
    gateway_user: Annotated[str, typer.Option(help="The gateway's broker account")] = "gateway",
    site: Annotated[str | None, typer.Option(
        help="An edge site the devices connect to (urbanops edge run): their accounts go to OUT/sites/SITE/, "
             "and the city broker gets the site bridge's account")] = None,
) -> None:
    """Add COUNT devices with their own credentials; earlier devices are kept as they are."""
    try:
        with console.status(f"provisioning {count} {kind.value}(s) in {district}"):
            result = provision(out, kind=kind, district=district, count=count, prefix=prefix,
                               gateway_user=gateway_user, site=site)
    except (ProvisionError, TopicError, OSError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    for cred in result.created:
        where = f"{cred.topic_prefix}/#" if cred.topic_prefix else f"({cred.role} account)"
        typer.echo(f"{cred.username}\t{where}")
    console.print(
        f"{len(result.created)} account(s) added, {result.total_devices} device(s) in total.\n"
        f"passwords: {result.credentials} (mode 0600; give each device its own line)\n"
        f"broker:    password_file {result.passwd.resolve()}\n"
        f"           acl_file {result.acl.resolve()}\n"
        "A running Mosquitto reloads both on SIGHUP."
    )
    if site:
        console.print(f"site {site}: urbanops edge run --extra {(out / 'sites' / site / 'auth.conf').resolve()} "
                      f"(the site broker's accounts); its bridge logs in to the city as edge-{site}")


@app.command("tls-certs")
def tls_certs_cmd(
    out: Annotated[Path, typer.Option(help="Directory for ca.crt, server.crt/.key, listener.conf")],
    host: Annotated[list[str] | None, typer.Option(
        help="Name or address clients connect to (repeatable; default localhost and 127.0.0.1)")] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="TLS listener port")] = TLS_PORT,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Validity in days")] = 825,
) -> None:
    """Self-signed CA and server certificate for Mosquitto's TLS listener (an existing CA is reused)."""
    try:
        files = make_certs(out, hosts=host or list(DEFAULT_HOSTS), port=port, days=days)
    except (TlsError, OSError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    typer.echo(files.listener_conf.read_text(), nl=False)
    console.print(
        f"CA for clients: {files.ca_cert}\n"
        f"Append {files.listener_conf} to mosquitto.conf; the gateway connects with "
        f"URBANOPS_MQTT_URL=mqtts://USER:PASS@HOST:{port}."
    )
