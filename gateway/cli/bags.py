"""``urbanops bags import|export`` (typer sub-app ``app``; mounted by ``gateway.cli.main``)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer

from devices.ros2.errors import Ros2Error
from devices.topics import Kind
from gateway.bags.exporter import ExportError, ExportWindow, export_bag, incident_window
from gateway.bags.importer import BagImportError, ImportOptions, MqttTarget, import_bag
from gateway.settings import Settings

app = typer.Typer(help="Replay ROS 2 bags into the platform, or export evidence as a bag.",
                  no_args_is_help=True)


def _parse_time(value: str, what: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as err:
        raise typer.BadParameter(f"{what}: {value!r} is not RFC 3339") from err
    if ts.tzinfo is None:
        raise typer.BadParameter(f"{what}: give a UTC offset, e.g. {value}+08:00 or {value}Z")
    return ts


def _parse_rate(value: str) -> float | None:
    if value.lower() == "max":
        return None
    try:
        rate = float(value)
    except ValueError as err:
        raise typer.BadParameter("--rate: a number like 1.0, or max") from err
    if rate <= 0:
        raise typer.BadParameter("--rate must be > 0")
    return rate


def _registered(database_url: str, device_id: str) -> tuple[str, str] | None:
    """(district, kind) of a device the registry knows; None when unknown or unreachable."""
    try:
        with psycopg.connect(database_url, connect_timeout=3) as conn:
            row = conn.execute("SELECT district, kind FROM devices WHERE device_id = %s",
                               (device_id,)).fetchone()
    except psycopg.Error:
        return None
    return (str(row[0]), str(row[1])) if row else None


@app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="Bag directory (metadata.yaml), .db3 or .mcap")],
    device: Annotated[str, typer.Option("--device", help="Device id the bag came from")],
    district: Annotated[str, typer.Option("--district", help="District of the device")],
    kind: Annotated[Kind | None, typer.Option(
        "--kind", help="drone|robot|sensor; default: from the device registry, else drone")] = None,
    rate: Annotated[str, typer.Option("--rate", help="Replay speed (1.0 = recorded), or max")] = "1.0",
    distro: Annotated[str, typer.Option("--distro", help="ROS 2 distro typestore")] = "humble",
    time_mode: Annotated[str, typer.Option(
        "--time", help="shift: first message at now; original: recorded timestamps")] = "shift",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and count, publish nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: JSON report")] = False,
) -> None:
    """Replay a rosbag2 recording through MQTT as if the device were live."""
    settings = Settings()
    if kind is None:
        known = _registered(settings.database_url, device)
        kind = Kind(known[1]) if known else Kind.DRONE
    opts = ImportOptions(device, district, kind, _parse_rate(rate), distro, time_mode)
    target = None if dry_run else MqttTarget(
        settings.mqtt_host, settings.mqtt_port, settings.mqtt_username, settings.mqtt_password,
        settings.mqtt_tls, client_id=f"urbanops-bags-{device}-{os.getpid()}")
    try:
        report = import_bag(path, opts, target, progress=True)
    except (BagImportError, Ros2Error) as err:
        typer.echo(f"import failed: {err}", err=True)
        raise typer.Exit(1) from err
    rows: list[dict[str, Any]] = []
    verb = "to publish" if dry_run else "published"
    for t in report.topics:
        note = t.skipped or ("" if t.ok else f"metadata.yaml says {t.expected}")
        typer.echo(f"{t.ros_topic:<32} {t.ros_type:<40} {t.published:>7} {verb}"
                   f"  {t.decodable:>7} decodable ({t.type_source}) {note}")
        rows.append({"ros_topic": t.ros_topic, "ros_type": t.ros_type, "expected": t.expected,
                     "read": t.read, "published": t.published, "decodable": t.decodable,
                     "type_source": t.type_source, "skipped": t.skipped})
    typer.echo(f"{report.published} messages {'read (dry run)' if dry_run else 'published'}"
               f" in {report.elapsed_s:.1f}s")
    if as_json:
        typer.echo(json.dumps({"published": report.published, "ok": report.ok,
                               "counts": report.counts(), "topics": rows}))
    if not report.ok:
        raise typer.Exit(2)


@app.command("export")
def export_cmd(
    device: Annotated[str | None, typer.Option("--device", help="Device id")] = None,
    start: Annotated[str | None, typer.Option("--start", help="RFC 3339 start")] = None,
    end: Annotated[str | None, typer.Option("--end", help="RFC 3339 end (exclusive)")] = None,
    incident: Annotated[str | None, typer.Option("--incident", help="Incident id")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="New bag directory")] = None,
    distro: Annotated[str, typer.Option("--distro", help="ROS 2 distro typestore")] = "humble",
) -> None:
    """Write telemetry, pose and events of a window as an MCAP ROS 2 bag."""
    settings = Settings()
    try:
        if incident is not None:
            with psycopg.connect(settings.database_url, connect_timeout=10) as conn:
                window = incident_window(conn, incident)
        elif device and start and end:
            window = ExportWindow(device, _parse_time(start, "--start"), _parse_time(end, "--end"))
        else:
            raise typer.BadParameter("give --incident, or --device with --start and --end")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = out or Path(f"urbanops-{window.device_id}-{stamp}")
        report = export_bag(settings.database_url, window, target, distro=distro, progress=True)
    except (ExportError, Ros2Error, psycopg.Error) as err:
        typer.echo(f"export failed: {err}", err=True)
        raise typer.Exit(1) from err
    for topic, count in report.counts.items():
        typer.echo(f"{topic:<24} {count:>7}")
    typer.echo(f"wrote {report.path}")
