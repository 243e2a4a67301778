"""``urbanops triage train | promote | rollback | models``: the learned model's life cycle.

Train from the corpus (and what the city corrected), run a candidate in shadow
(``URBANOPS_TRIAGE_SHADOW_MODEL``), promote it only when it is not worse, roll back in one command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console

from gateway.settings import Settings
from gateway.triage_svc.model_registry import ModelRegistry, RegistryError

err = Console(stderr=True)


def train(
    out: Annotated[Path | None, typer.Option(help="Artefact to write (default: a new candidate "
                                               "in the data dir's model registry).")] = None,
    corpus: Annotated[list[Path] | None, typer.Option(help="Training files (default: triage/corpus/train).")] = None,
    from_db: Annotated[bool, typer.Option("--from-db", help="Add tickets people corrected or resolved.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of folds and solvers.")] = 7,
    folds: Annotated[int, typer.Option(help="Cross-validation folds for the calibrator.")] = 5,
    version: Annotated[str | None, typer.Option(help="Version name (default: linear-<UTC time>).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Last output line: one JSON object.")] = False,
) -> None:
    """Train the linear zh/en triage model reproducibly (seed and data sha256 in the artefact)."""
    from datetime import UTC, datetime

    from triage.learned.corpus import train_files
    from triage.learned.train import load_records
    from triage.learned.train import train as fit

    settings = Settings()
    records = load_records(corpus or train_files())
    if from_db:
        from gateway.triage_svc.labels import labelled_from_db

        city = labelled_from_db(settings.database_url)
        err.print(f"[train] {len(city)} labelled tickets from the database")
        records += city
    if not records:
        err.print("[red]no training records[/red]")
        raise typer.Exit(2)
    version = version or f"linear-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    target = out or ModelRegistry(settings.data_dir).candidate_path(version)
    err.print(f"[train] {len(records)} records -> {target}")
    report = fit(records, target, seed=seed, folds=folds, version=version,
                 progress=lambda line: err.print(f"[train] {line}"))
    result = {"model": str(target), "version": version, "n": report.n, "data_sha256": report.data_sha256,
              "seed": seed, "seconds": report.seconds, "out_of_fold": report.oof,
              "review_threshold": report.review_threshold}
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n" if as_json else
                     f"trained {version}: {report.n} records in {report.seconds:.0f} s, out-of-fold {report.oof}\n")


def promote(
    model: Annotated[Path, typer.Argument(help="Candidate artefact (.npz).")],
    by: Annotated[str, typer.Option(help="Who promotes (recorded).")] = "cli",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Make a candidate live if it is not worse on the holdout (scored under the city's overrides)
    and in its shadow period."""
    from gateway.triage_svc.labels import labelled_from_db, shadow_agreement
    from gateway.triage_svc.promotion import judge
    from triage.learned.model import TextModel

    settings = Settings()
    registry = ModelRegistry(settings.data_dir)
    try:
        shadow = shadow_agreement(settings.database_url)
        city = labelled_from_db(settings.database_url)
    except psycopg.Error as exc:  # no database reachable: promote on the frozen holdout alone, and say so
        err.print(f"[promote] no shadow figures or city overrides ({type(exc).__name__}): frozen holdout only")
        shadow, city = {}, []
    verdict = judge(model, registry.active_path(), shadow, city=city)
    if verdict.city_relabelled:
        err.print(f"[promote] holdout scored under the city's overrides (labels changed: {verdict.city_relabelled})")
    if as_json:
        sys.stdout.write(json.dumps({"promoted": verdict.ok, **verdict.evidence()}) + "\n")
    if not verdict.ok:
        err.print("[red]not promoted:[/red] " + "; ".join(verdict.reasons))
        raise typer.Exit(1)
    record = registry.promote(model, TextModel(model).version, actor=by, evidence=verdict.evidence())
    err.print(f"[promote] {record['version']} is live (sha256 {record['sha256'][:12]})")


def rollback(by: Annotated[str, typer.Option(help="Who rolls back (recorded).")] = "cli") -> None:
    """Put the model the live one replaced back (or the shipped model)."""
    try:
        previous = ModelRegistry(Settings().data_dir).rollback(actor=by)
    except RegistryError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    err.print(f"[rollback] live model now {previous['version'] if previous else 'the shipped one'}")


def models() -> None:
    """The live model and the promotion history."""
    registry = ModelRegistry(Settings().data_dir)
    active = registry.active()
    print(f"live: {active['version'] + ' ' + active['path'] if active else 'shipped ' + str(registry.active_path())}")
    for event in registry.history():
        print(json.dumps(event, ensure_ascii=False))


def calibration(
    file: Annotated[Path | None, typer.Argument(help="Labelled set (default: the frozen holdout).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the PNGs and figures.json.")] = Path("docs/triage"),
    model: Annotated[Path | None, typer.Option(help="Learned model (default: the live one).")] = None,
) -> None:
    """Reliability diagram and coverage–accuracy curve of the learned backend's confidence."""
    from gateway.triage_svc.config import triage_config
    from triage.learned.corpus import holdout_lines
    from triage.learned.plots import calibration_figures, draw
    from triage.registry import make_backend

    lines = ([ln for ln in file.read_text(encoding="utf-8").splitlines() if ln.strip()] if file
             else holdout_lines())
    backend = make_backend("learned", triage_config(Settings(), "learned", model))
    figures = calibration_figures(lines, backend)
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    for path in draw(figures, out, file.name if file else "frozen holdout"):
        err.print(f"[calibration] {path}")


def register(app: typer.Typer) -> None:
    for command in (train, promote, rollback, models, calibration):
        app.command()(command)
