"""Train the linear triage model (scikit-learn at training time only; numpy at run time).

Reproducible: the records are sorted by id, folds and solvers are seeded, and the artefact
records the seed and the sha256 of the training data. ``urbanops triage train`` calls
``train``; the review calibrator is fitted on out-of-fold decisions, so the confidence it
gives a ticket is what the model earns on reports it did not see.

The folds hold out whole writers (``meta.writer``), not random records: a ticket at run
time comes from a person the corpus never heard, and a writer's own phrasing on both sides
of a fold made the out-of-fold figures, and so the confidence, too rosy. Records without a
writer are spread over the folds by a hash of their id. A city's overrides first relabel
the corpus reports that read like them (``city_policy``); shouted copies of a share of the
reports teach that shouting moves nothing (``pressure``); they are trained on, never scored.
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from triage.learned.city_policy import adopt_overrides
from triage.learned.corpus import record_meta
from triage.learned.decide import decide
from triage.learned.features import incident_text, incident_tokens
from triage.learned.model import HEADS, Head, predict
from triage.learned.pressure import pressure_copies
from triage.models import Incident, Severity
from triage.rules import assess_rules

FORMAT = "urbanops-triage-linear-1"
# The review threshold is the highest whose out-of-fold load stays under this: the issue's
# budget is 25 %, less a margin for a city whose reports differ from the corpus.
MAX_REVIEW_LOAD = 0.23


@dataclass
class Example:
    tokens: list[str]
    category: str
    severity: str
    agency: str
    quarantined: bool
    has_text: bool
    rules: Any  # triage.rules.Assessment
    weight: float = 1.0


@dataclass
class TrainReport:
    n: int
    data_sha256: str
    seed: int
    seconds: float
    oof: dict[str, float] = field(default_factory=dict)
    review_threshold: float = 0.0


def load_records(paths: Iterable[Path]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted(paths):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
    return sorted(records, key=lambda r: str(r["incident_id"]))


def data_sha256(records: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def fold_groups(records: list[dict[str, Any]], folds: int) -> list[str]:
    """The unit a fold holds out: the record's writer, else one of ``folds`` id-hash buckets."""
    groups = []
    for r in records:
        writer = record_meta(r).get("writer")
        groups.append(f"w:{writer}" if writer else f"h:{zlib.crc32(str(r['incident_id']).encode()) % folds}")
    return groups


def make_example(record: dict[str, Any]) -> Example:
    incident = Incident.model_validate(record)
    rules = assess_rules(incident)
    text = incident_text(incident)
    exp = record["expected"]
    return Example(incident_tokens(incident, rules.findings), exp["category"], exp["severity"],
                   exp["agency"], text.quarantined > 0, text.has_text, rules,
                   float(record.get("weight", 1.0)))


def _fit_heads(docs: list[list[str]], ys: dict[str, list[Any]], weights: list[float], seed: int,
               c: float) -> tuple[Any, dict[str, Any]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer=lambda tokens: tokens, sublinear_tf=True, min_df=2, max_features=120_000,
                          dtype=np.float32)
    x = vec.fit_transform(docs)
    heads = {}
    for name in HEADS:
        y = ys[name]
        clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        clf.fit(x, y, sample_weight=np.asarray(weights))
        heads[name] = clf
    return vec, heads


def _as_runtime(vec: Any, heads: dict[str, Any]) -> tuple[dict[str, int], np.ndarray, dict[str, Head]]:
    vocab = {t: int(i) for t, i in vec.vocabulary_.items()}
    runtime = {}
    for name, clf in heads.items():
        labels = tuple(str(c) for c in clf.classes_)
        runtime[name] = Head(labels, clf.coef_.astype(np.float32), clf.intercept_.astype(np.float64))
    return vocab, vec.idf_.astype(np.float64), runtime


def _right(ex: Example, category: str, severity: str, agency: str) -> bool:
    return (category == ex.category and agency == ex.agency
            and abs(Severity(severity).rank - Severity(ex.severity).rank) <= 1)


def _choose_threshold(probs: np.ndarray, forced: np.ndarray) -> float:
    """Highest threshold whose review load (forced reviews included) stays ≤ MAX_REVIEW_LOAD."""
    best = 0.0
    for t in np.linspace(0.05, 0.95, 181):
        review = (probs < t) | forced
        if review.mean() <= MAX_REVIEW_LOAD:
            best = float(t)
    return best


Curve = list[dict[str, float]]


def curves(probs: np.ndarray, right: np.ndarray, bins: int = 10) -> tuple[Curve, Curve]:
    """Reliability bins (predicted vs observed) and the coverage–accuracy curve."""
    reliability = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        mask = (probs >= lo) & ((probs < hi) if b < bins - 1 else (probs <= hi))
        if mask.any():
            reliability.append({"lo": lo, "hi": hi, "n": int(mask.sum()),
                                "predicted": float(probs[mask].mean()), "observed": float(right[mask].mean())})
    order = np.argsort(-probs)
    coverage = []
    for k in range(1, 21):
        n = max(1, round(len(order) * k / 20))
        kept = order[:n]
        coverage.append({"review_load": 1 - n / len(order), "auto_accepted": n / len(order),
                         "accuracy": float(right[kept].mean()),
                         "threshold": float(probs[kept].min())})
    return reliability, coverage


def train(records: list[dict[str, Any]], out: Path, *, seed: int = 7, folds: int = 5, c: float = 20.0,
          version: str | None = None, progress: Any = print) -> TrainReport:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    start = time.perf_counter()
    examples = [make_example(r) for r in records]
    sha = data_sha256(records)
    adopted = adopt_overrides(examples, records)
    if adopted:
        progress(f"corpus reports relabelled after the city's overrides: {adopted}")
    n = len(examples)  # the records themselves; shouted copies follow, for training only
    shouted = pressure_copies(records, seed)
    for i, copy in shouted:
        ex, of = make_example(copy), examples[i]
        ex.category, ex.severity, ex.agency = of.category, of.severity, of.agency  # relabelled too
        examples.append(ex)
    docs = [e.tokens for e in examples]
    ys = {"category": [e.category for e in examples], "severity": [e.severity for e in examples],
          "agency": [e.agency for e in examples]}
    weights = [e.weight for e in examples]
    texted = np.array([e.has_text for e in examples[:n]])
    feats: list[list[float]] = [[] for _ in range(n)]
    right = np.zeros(n, dtype=bool)
    hits = {"category": 0, "agency": 0, "severity": 0, "within_one": 0}
    groups = fold_groups(records + [copy for _, copy in shouted], folds)
    folds = min(folds, len(set(groups)))
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (tr, te) in enumerate(splitter.split(docs, ys["category"], groups), 1):
        vec, heads = _fit_heads([docs[i] for i in tr], {n: [ys[n][i] for i in tr] for n in HEADS},
                                [weights[i] for i in tr], seed, c)
        vocab, idf, runtime = _as_runtime(vec, heads)
        for i in te[te < n]:
            ex = examples[i]
            pred = predict(vocab, idf, runtime, ex.tokens) if ex.has_text else None
            d = decide(ex.rules, pred, quarantined=ex.quarantined)
            feats[i] = d.features
            right[i] = _right(ex, d.category.value, d.severity.value, d.agency.value)
            hits["category"] += d.category.value == ex.category
            hits["agency"] += d.agency.value == ex.agency
            hits["severity"] += d.severity.value == ex.severity
            hits["within_one"] += abs(d.severity.rank - Severity(ex.severity).rank) <= 1
        progress(f"fold {k}/{folds} done ({time.perf_counter() - start:.0f} s)")
    x_cal = np.array([feats[i] for i in np.flatnonzero(texted)])
    y_cal = right[texted]
    cal = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(x_cal, y_cal)
    probs = cal.predict_proba(x_cal)[:, 1]
    forced = np.array([examples[i].quarantined for i in np.flatnonzero(texted)])
    threshold = _choose_threshold(probs, forced)
    review = (probs < threshold) | forced
    wrong = ~y_cal
    oof = {k: round(v / n, 4) for k, v in hits.items()}
    oof.update({"right": round(float(y_cal.mean()), 4), "review_load": round(float(review.mean()), 4),
                "review_catch": round(float((review & wrong).sum() / max(1, wrong.sum())), 4)})
    progress(f"out-of-fold: {oof}")
    vec, heads = _fit_heads(docs, ys, weights, seed, c)
    vocab, idf, runtime = _as_runtime(vec, heads)
    version = version or f"linear-{datetime.now(UTC):%Y%m%d%H%M%S}"
    meta = {
        "format": FORMAT, "version": version, "seed": seed, "folds": folds, "C": c,
        "trained_at": datetime.now(UTC).isoformat(), "n": n, "shouted_copies": len(shouted), "data_sha256": sha,
        "labels": {n: list(h.labels) for n, h in runtime.items()},
        "review_threshold": threshold, "city_relabelled": adopted,
        "out_of_fold": oof, "max_review_load": MAX_REVIEW_LOAD,
    }
    ordered = sorted(vocab, key=vocab.__getitem__)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps(meta)), "vocab": np.array(ordered), "idf": idf.astype(np.float32),
        "calibrator": np.concatenate([cal.intercept_, cal.coef_[0]]).astype(np.float64),
    }
    for name, h in runtime.items():  # float16 weights: a third of the size, predictions unchanged to 1e-3
        arrays[f"{name}_coef"], arrays[f"{name}_intercept"] = h.coef.astype(np.float16), h.intercept
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(out)
    return TrainReport(n, sha, seed, round(time.perf_counter() - start, 1), oof, threshold)
