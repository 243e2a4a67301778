"""Whether a candidate model may replace the live one: never worse on the frozen holdout, and
not worse than the live model on the tickets people confirmed while it ran in shadow.

"Not worse" on the holdout: category, agency and severity-within-one each at most
``FIELD_SLACK`` below the live model. The slack is there because a city that decides a routing
differently from the default policy (and teaches it through overrides) makes the handful of
holdout cases labelled by the default policy "wrong" on purpose; a real regression moves more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.backend import TriageConfig
from triage.evaluate import evaluate
from triage.learned.backend import LearnedBackend
from triage.learned.corpus import holdout_lines

FIELD_SLACK = 0.01
KEYS = ("category_acc", "agency_acc", "severity_within_one")


@dataclass
class Verdict:
    ok: bool
    candidate: dict[str, float]
    live: dict[str, float]
    shadow: dict[str, dict[str, int]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        return {"holdout": {"candidate": self.candidate, "live": self.live}, "shadow": self.shadow,
                "reasons": self.reasons}


def holdout_figures(model: Path, lines: list[str] | None = None) -> dict[str, float]:
    backend = LearnedBackend(TriageConfig(backend="learned", learned_model=model))
    summary = evaluate(lines if lines is not None else holdout_lines(), backend).summary()
    return {k: summary[k] for k in ("n", *KEYS, "severity_acc")}


def judge(candidate: Path, live: Path, shadow: dict[str, dict[str, int]] | None = None,
          lines: list[str] | None = None) -> Verdict:
    cand, cur = holdout_figures(candidate, lines), holdout_figures(live, lines)
    reasons = []
    for key in KEYS:
        if cand[key] < cur[key] - FIELD_SLACK:
            reasons.append(f"holdout {key} {cand[key]:.3f} < live {cur[key]:.3f}")
    shadow = shadow or {}
    if "shadow" in shadow and "live" in shadow and shadow["shadow"]["n"]:
        s, v = shadow["shadow"], shadow["live"]
        if s["right"] / s["n"] < v["right"] / max(1, v["n"]):
            reasons.append(f"shadow period: {s['right']}/{s['n']} right against live {v['right']}/{v['n']}")
    return Verdict(not reasons, cand, cur, shadow, reasons)
