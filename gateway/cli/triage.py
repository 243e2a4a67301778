"""``urbanops triage``: assess incidents and evaluate backends (SPEC §4, §6).

Ticket lines go to stdout, nothing else; progress and messages go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from gateway.cli import triage_model as cli_triage_model
from gateway.settings import Settings
from gateway.triage_svc.config import build_backend, build_shadow, triage_config
from triage.assess import assess_lines
from triage.backend import BackendConfigError, TriageBackend
from triage.evaluate import EvalReport, evaluate
from triage.registry import make_backend

app = typer.Typer(help="Triage incidents into emergency tickets (learned model, rules or a local LLM).",
                  no_args_is_help=True)
err = Console(stderr=True)
cli_triage_model.register(app)

BackendOpt = Annotated[str | None, typer.Option(
    "--backend", "-b", help="learned, rules or llm (default: URBANOPS_TRIAGE_BACKEND).")]
ModelOpt = Annotated[Path | None, typer.Option(
    "--model", help="Model file: a .npz for learned (default: the promoted or shipped one), "
                    "a GGUF for llm (default: URBANOPS_LLM_MODEL).")]


def _backend(backend: str | None, model: Path | None) -> TriageBackend:
    try:
        config = triage_config(Settings(), backend, model)
        return make_backend(config.backend, config)
    except BackendConfigError as exc:
        err.print(f"[red]triage backend unavailable:[/red] {exc}")
        raise typer.Exit(2) from exc


@contextmanager
def _open(path: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdin
        return
    try:
        with Path(path).open(encoding="utf-8") as f:
            yield f
    except OSError as exc:
        err.print(f"[red]cannot read {path}:[/red] {exc}")
        raise typer.Exit(2) from exc


def _progress(total: int | None, what: str) -> Progress:
    return Progress(SpinnerColumn(), TextColumn(what), BarColumn(), MofNCompleteColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


@app.command()
def assess(
    file: Annotated[str, typer.Argument(help="Incidents, one JSON object per line; - for stdin.")],
    backend: BackendOpt = None,
    model: ModelOpt = None,
) -> None:
    """Write one ticket JSON line per incident line, in input order (bad lines: error records)."""
    engine = _backend(backend, model)
    with _open(file) as lines, _progress(None, f"triage ({engine.name})") as progress:
        task = progress.add_task("assess", total=None)
        for line in assess_lines(lines, engine):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()  # a live consumer sees each ticket as soon as it is made
            progress.advance(task)


def _table(report: EvalReport) -> Table:
    s = report.summary()
    table = Table(title=f"triage eval: {s['backend']} backend, n={s['n']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("category_acc", "agency_acc", "severity_acc", "severity_within_one",
                "schema_valid", "needs_review_rate", "fallback_rate"):
        table.add_row(key, f"{s[key]:.1%}")
    table.add_row("p50 / p95 latency", f"{s['p50_ms']:.1f} / {s['p95_ms']:.1f} ms")
    table.add_row("invalid lines", str(s["invalid_lines"]))
    return table


@app.command("eval")
def eval_(
    file: Annotated[str, typer.Argument(help="Labelled incidents (expected.category/severity/agency).")],
    backend: BackendOpt = None,
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Last output line: one JSON object.")] = False,
) -> None:
    """Score a backend on a labelled set: accuracy, confusion, schema validity, latency."""
    import resource
    import time

    loading = time.perf_counter()
    engine = _backend(backend, model)
    load_s = time.perf_counter() - loading
    with _open(file) as f:
        lines = [line for line in f if line.strip()]
    with _progress(len(lines), f"eval ({engine.name})") as progress:
        task = progress.add_task("eval", total=len(lines))
        report = evaluate(lines, engine, on_case=lambda _c: progress.advance(task))
    summary = report.summary()
    summary["load_s"] = round(load_s, 3)
    summary["rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
        return
    out = Console()
    out.print(_table(report))
    cats = summary["confusion"]["category"]
    confusion = Table(title="category confusion (rows: expected)")
    confusion.add_column("expected")
    confusion.add_column("predicted counts")
    for exp, row in cats.items():
        confusion.add_row(exp, ", ".join(f"{k}:{v}" for k, v in row.items()))
    out.print(confusion)
    for m in summary["mistakes"][:30]:
        e, p = m["expected"], m["predicted"] or {}
        out.print(f"  {m['incident_id']}: expected {e['category']}/{e['severity']}/{e['agency']}"
                  f" got {p.get('category')}/{p.get('severity')}/{p.get('agency')}")


@app.command()
def worker(
    backend: BackendOpt = None,
    model: ModelOpt = None,
) -> None:
    """Run the triage service on its own (e.g. on a GPU host): take new observations from the
    database's durable inbox, correlate, triage and store tickets, until interrupted.
    Several workers (and gateways with triage on) share the city's partitions by lease."""
    import signal
    import threading

    from gateway.triage_svc.service import TriageService

    settings = Settings()
    try:
        engine = build_backend(settings, backend, model)
    except BackendConfigError as exc:
        err.print(f"[red]triage backend unavailable:[/red] {exc}")
        raise typer.Exit(2) from exc
    service = TriageService(settings.database_url, engine, shadow=build_shadow(settings),
                            lease_ttl_s=settings.triage_lease_ttl_s).start()
    err.print(f"triage worker running ({service.backend.name}); Ctrl-C to stop")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(5.0):
        st = service.stats
        err.print(f"observations {st.observations}  tickets {st.tickets_created}+{st.tickets_retriaged}"
                  f"  escalated {st.escalated}  partitions {st.partitions}  errors {st.errors}")
    service.stop()
