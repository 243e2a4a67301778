"""Whether a candidate model may replace the live one: never worse on the frozen holdout, and
not worse than the live model on the tickets people confirmed while it ran in shadow.

"Not worse" on the holdout: category, agency and severity-within-one each at most
``FIELD_SLACK`` below the live model. A city that decides a routing differently from the default
policy, and teaches it through overrides, makes the holdout reports labelled the default way
"wrong" on purpose: a candidate that learned the city's routing of night construction lost
six holdout noise cases labelled the default way (1 point of agency) for doing what the
managers asked. So, given the city's labelled tickets,
both models are scored on the holdout *under the city's policy*: the holdout reports that read
like the overrides take the city's value (the same rule, fitted on the same training corpus, as
``triage.learned.city_policy`` applies before training). The figures on the holdout as frozen
are kept in the evidence beside them. The slack is for noise; a real regression moves more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.backend import TriageConfig
from triage.evaluate import evaluate
from triage.learned.backend import LearnedBackend
from triage.learned.city_policy import fit_city_policy
from triage.learned.corpus import holdout_lines, train_files

FIELD_SLACK = 0.01
KEYS = ("category_acc", "agency_acc", "severity_within_one")


@dataclass
class Verdict:
    ok: bool
    candidate: dict[str, float]
    live: dict[str, float]
    shadow: dict[str, dict[str, int]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    # Scored under the city's policy: how many holdout labels it changed, and the frozen figures.
    city_relabelled: dict[str, int] = field(default_factory=dict)
    frozen: dict[str, dict[str, float]] = field(default_factory=dict)

    def evidence(self) -> dict[str, Any]:
        return {"holdout": {"candidate": self.candidate, "live": self.live}, "shadow": self.shadow,
                "city_relabelled": self.city_relabelled, "holdout_as_frozen": self.frozen,
                "reasons": self.reasons}


def under_city_policy(lines: list[str], city: list[dict[str, Any]],
                      corpus: list[dict[str, Any]] | None = None) -> tuple[list[str], dict[str, int]]:
    """The holdout ``lines`` relabelled by the policy the ``city``'s overrides teach (fitted on
    ``corpus`` plus ``city``, as training does); the lines unchanged when there is none."""
    from triage.learned.train import load_records, make_example

    base = corpus if corpus is not None else load_records(train_files())
    fitted = base + city
    policy = fit_city_policy([make_example(r) for r in fitted], fitted)
    if policy is None:
        return lines, {}
    records = [json.loads(line) for line in lines if line.strip()]
    readable = [r for r in records if isinstance(r, dict) and isinstance(r.get("expected"), dict)]
    examples = [make_example(r) for r in readable]
    changed = policy.relabel(examples)
    for record, example in zip(readable, examples, strict=True):
        record["expected"] = {**record["expected"], "category": example.category,
                              "severity": example.severity, "agency": example.agency}
    return [json.dumps(r, ensure_ascii=False) for r in records], changed


def holdout_figures(model: Path, lines: list[str] | None = None) -> dict[str, float]:
    backend = LearnedBackend(TriageConfig(backend="learned", learned_model=model))
    summary = evaluate(lines if lines is not None else holdout_lines(), backend).summary()
    return {k: summary[k] for k in ("n", *KEYS, "severity_acc")}


def judge(candidate: Path, live: Path, shadow: dict[str, dict[str, int]] | None = None,
          lines: list[str] | None = None, city: list[dict[str, Any]] | None = None) -> Verdict:
    """``city``: the labelled tickets (``labels.labelled_from_db``) whose overrides set the policy
    the holdout is scored under; without any, the holdout as frozen."""
    frozen_lines = lines if lines is not None else holdout_lines()
    scored, relabelled = under_city_policy(frozen_lines, city) if city else (frozen_lines, {})
    cand, cur = holdout_figures(candidate, scored), holdout_figures(live, scored)
    frozen = ({"candidate": holdout_figures(candidate, frozen_lines), "live": holdout_figures(live, frozen_lines)}
              if relabelled else {})
    reasons = []
    for key in KEYS:
        if cand[key] < cur[key] - FIELD_SLACK:
            reasons.append(f"holdout {key} {cand[key]:.3f} < live {cur[key]:.3f}")
    shadow = shadow or {}
    if "shadow" in shadow and "live" in shadow and shadow["shadow"]["n"]:
        s, v = shadow["shadow"], shadow["live"]
        if s["right"] / s["n"] < v["right"] / max(1, v["n"]):
            reasons.append(f"shadow period: {s['right']}/{s['n']} right against live {v['right']}/{v['n']}")
    return Verdict(not reasons, cand, cur, shadow, reasons, relabelled, frozen)
