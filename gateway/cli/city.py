"""``urbanops city``: check a city pack before a gateway loads it, and show the one in use."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from citypack import PackError, load_pack
from gateway.settings import Settings

DEFAULT_SETS = ("citations.holdout-a.jsonl", "citations.holdout-b.jsonl")

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


@app.command("citations")
def citations(
    files: Annotated[list[Path] | None, typer.Argument(help="Labelled sets (default: the pack's frozen holdouts, "
                                                             "evaluation/citations.holdout-*.jsonl).")] = None,
    directory: Annotated[Path | None, typer.Option("--city", help="The pack (default: URBANOPS_CITY_DIR).")] = None,
    backend: Annotated[str | None, typer.Option(help="Triage backend (default: URBANOPS_TRIAGE_BACKEND).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Last line: one JSON object with the figures.")] = False,
    misses: Annotated[bool, typer.Option("--misses", help="List the cases cited wrongly or not at all.")] = False,
) -> None:
    """Triage a labelled set and count how often tickets cite a relevant plan section."""
    from gateway.city import CityHolder
    from gateway.city.citation_eval import TimedCity, evaluate, read_cases
    from gateway.triage_svc.config import triage_config
    from triage.registry import make_backend

    settings = Settings()
    holder = CityHolder(directory or settings.city_dir)
    paths = files or [holder.directory / "evaluation" / name for name in DEFAULT_SETS]
    cases = read_cases(paths)
    timer = TimedCity(holder)
    config = triage_config(settings, backend, city=holder)
    engine = make_backend(config.backend, dataclasses.replace(config, city=timer))
    try:
        result = evaluate(cases, engine, timer)
    finally:
        engine.close()
    found = result.pop("misses")
    result.update({"backend": config.backend, "city": holder.pack.id, "sets": [p.name for p in paths]})
    if misses:
        for m in found:
            console.print(f"  {m['id']} {m['category']}: cited {m['cited']} relevant {m['relevant']}",
                          markup=False, highlight=False)
    if json_output:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    console.print(f"{result['n']} cases ({result['with_plan']} with a plan): hit {result['hit_rate']}, "
                  f"top-1 {result['top1_relevant']}, precision {result['precision']}, recall {result['recall']}, "
                  f"quiet without a plan {result['quiet_without_plan']}")
