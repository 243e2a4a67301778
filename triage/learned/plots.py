"""Reliability diagram and coverage–accuracy curve of a backend's ``confidence`` on a labelled
set (``urbanops triage calibration``). matplotlib is imported only here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from triage.backend import TriageBackend
from triage.evaluate import evaluate
from triage.learned.train import curves


def calibration_figures(lines: list[str], backend: TriageBackend) -> dict[str, Any]:
    confidences: list[float] = []
    report = evaluate(lines, backend, on_case=None)
    # evaluate() keeps no confidence: re-read it from the backend in the same order
    import json

    from triage.assess import assess_record

    for number, line in enumerate(lines, 1):
        outcome = assess_record(json.loads(line), backend, number)
        confidences.append(outcome.result.ticket.confidence if outcome.result else 0.0)
    right = np.array([not c.wrong for c in report.cases])
    probs = np.array(confidences[: len(right)])
    reliability, coverage = curves(probs, right)
    return {"n": len(right), "right": float(right.mean()), "reliability": reliability, "coverage": coverage,
            "review": report.review(), "brier": float(np.mean((probs - right) ** 2))}


def draw(figures: dict[str, Any], out_dir: Path, title: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    rel = figures["reliability"]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot([r["predicted"] for r in rel], [r["observed"] for r in rel], "o-", label="tickets")
    for r in rel:
        ax.annotate(str(r["n"]), (r["predicted"], r["observed"]), textcoords="offset points", xytext=(4, -10),
                    fontsize=7)
    ax.set(xlabel="confidence (predicted P(ticket right))", ylabel="observed share right",
           title=f"Reliability — {title}\nBrier {figures['brier']:.3f}, n={figures['n']}", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    reliability_png = out_dir / "triage-reliability.png"
    fig.tight_layout()
    fig.savefig(reliability_png, dpi=110)
    plt.close(fig)
    cov = figures["coverage"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([c["review_load"] * 100 for c in cov], [c["accuracy"] * 100 for c in cov], "o-")
    ax.axvline(figures["review"]["load"] * 100, color="red", linestyle=":", label="review threshold in use")
    ax.set(xlabel="review load: share of tickets sent to a person (%)",
           ylabel="accuracy of auto-accepted tickets (%)", title=f"Coverage vs accuracy — {title}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    coverage_png = out_dir / "triage-coverage.png"
    fig.tight_layout()
    fig.savefig(coverage_png, dpi=110)
    plt.close(fig)
    return [reliability_png, coverage_png]
