"""``urbanops city``: check a city pack before a gateway loads it, and show the one in use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from citypack import PackError, load_pack
from gateway.settings import Settings

app = typer.Typer(help="The city pack: districts, zones, places, agencies, SLA, escalation, plans.",
                  no_args_is_help=True)
console = Console(stderr=True)


@app.command("check")
def check(
    directory: Annotated[Path | None, typer.Argument(help="The pack (default: URBANOPS_CITY_DIR).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Load a pack as the gateway would; list every problem (file, feature, field); exit 1 if any."""
    directory = directory or Settings().city_dir
    try:
        pack = load_pack(directory)
    except PackError as err:
        if json_output:
            typer.echo(json.dumps({"ok": False, "directory": str(directory),
                                   "problems": [str(p) for p in err.problems]}, ensure_ascii=False))
        else:
            console.print(f"[red]{directory}: {len(err.problems)} problem(s)[/red]")
            for p in err.problems:
                console.print(f"  - {p}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    summary = {"ok": True, "directory": str(pack.directory), "id": pack.id, "sha256": pack.sha256,
               "timezone": pack.config.timezone, "districts": list(pack.districts), "zones": len(pack.zones),
               "places": sum(p.kind == "place" for p in pack.places),
               "streets": sum(p.kind == "street" for p in pack.places),
               "plans": sorted({f"{p.id}.{p.lang}" for p in pack.plans}), "approximate": pack.config.approximate}
    if json_output:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    console.print(f"[green]{pack.id}[/green] ({pack.config.name.zh} / {pack.config.name.en}) is usable: "
                  f"{len(pack.districts)} districts ({', '.join(pack.districts)}), {summary['zones']} zones, "
                  f"{summary['places']} places, {summary['streets']} streets, {len(pack.plans)} plan files; "
                  f"sha256 {pack.sha256[:12]}")
    if pack.config.approximate:
        console.print("  outlines are approximate (demo drawings, not survey data)")
