"""A city's corrections become its policy for the corpus reports that say the same thing.

When managers override a field (say, night construction noise to urban management instead of
the corpus' ecology-environment), the corpus still holds a hundred such reports labelled the
default way, and a linear model fits both: the thirty overrides by their own rare n-grams,
the corpus by its. New wording then goes the old way (measured: 30 overrides moved 5 of 10
new reports, at weight 50 as at 100, once the corpus had 6,171 reports).

So, before training, a corpus report of the overridden tickets' category that reads more like
the overrides than like the rest of its category (cosine to the two centroids of report-text
tf-idf, Rocchio's rule) takes the city's value for the fields the managers changed. Square
dancing and KTV read like the rest of the noise reports and keep their labels. The relabelled
records live in the training run only; the corpus files are never edited.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from triage.learned.corpus import record_meta

FIELDS = ("category", "severity", "agency")


def _overridden_fields(record: dict[str, Any]) -> tuple[str, ...]:
    meta = record_meta(record)
    if meta.get("kind") != "override":
        return ()
    return tuple(f for f in meta.get("fields", FIELDS) if f in FIELDS)


def _open_cases(examples: list[Any], category: str, attr: str, value: str, skip: frozenset[int]) -> list[int]:
    """The reports of ``category`` a rule could move: with text, not overrides, not yet ``value``."""
    return [j for j, e in enumerate(examples)
            if j not in skip and e.has_text and e.category == category and getattr(e, attr) != value]


@dataclass
class PolicyRule:
    """One (category, field, value) the city decided, as two tf-idf centroids."""

    category: str
    attr: str  # the ticket field: category, severity or agency
    value: str
    towards: np.ndarray  # centroid of the overrides
    usual: np.ndarray  # centroid of the category's other reports

    def apply(self, examples: list[Any], rows: list[int], x: Any) -> int:
        """Give the city's value to those of ``rows`` (tf-idf ``x``) closer to the overrides."""
        like_city = (x @ self.towards.T).ravel() > (x @ self.usual.T).ravel()
        for j in np.asarray(rows)[like_city]:
            setattr(examples[int(j)], self.attr, self.value)
        return int(like_city.sum())


@dataclass
class CityPolicy:
    """What ``fit_city_policy`` learned; ``relabel`` applies it to reports it was not fitted on."""

    vectorizer: Any
    rules: list[PolicyRule] = field(default_factory=list)

    def relabel(self, examples: list[Any], skip: frozenset[int] = frozenset()) -> dict[str, int]:
        """Give the city's value to the examples that read like its overrides; counts per field."""
        changed: Counter[str] = Counter()
        for rule in self.rules:
            rows = _open_cases(examples, rule.category, rule.attr, rule.value, skip)
            if rows:
                changed[rule.attr] += rule.apply(examples, rows, self.vectorizer.transform(
                    [examples[j].tokens for j in rows]))
        return {k: v for k, v in changed.items() if v}


def fit_city_policy(examples: list[Any], records: list[dict[str, Any]]) -> CityPolicy | None:
    """The city's policy from the override records among ``records``; ``None`` without overrides.

    Overrides are grouped by (category, field, value); each group is its own centroid, so
    routing one kind of report differently leaves the category's other reports alone. Groups
    are fitted in turn, each on the labels the previous ones left (as ``relabel`` applies them),
    on copies: the fit does not edit ``examples``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    city = [i for i, r in enumerate(records) if _overridden_fields(r) and examples[i].has_text]
    if not city:
        return None
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i in city:
        for f in _overridden_fields(records[i]):
            groups[(examples[i].category, f, getattr(examples[i], f))].append(i)
    vec = TfidfVectorizer(analyzer=lambda tokens: [t for t in tokens if not t.startswith("x:")],
                          sublinear_tf=True, min_df=2, dtype=np.float32)
    x = vec.fit_transform([e.tokens for e in examples])
    in_city = frozenset(city)
    policy = CityPolicy(vec)
    labelled = [copy.copy(e) for e in examples]
    for (category, f, value), members in groups.items():
        if len(members) < 3:  # one or two corrections are a ticket, not a policy
            continue
        rows = _open_cases(labelled, category, f, value, in_city)
        if not rows:
            continue
        rule = PolicyRule(category, f, value, normalize(np.asarray(x[members].mean(axis=0))),
                          normalize(np.asarray(x[rows].mean(axis=0))))
        policy.rules.append(rule)
        rule.apply(labelled, rows, x[rows])
    return policy


def adopt_overrides(examples: list[Any], records: list[dict[str, Any]]) -> dict[str, int]:
    """Relabel corpus examples in place after the city's overrides; returns counts per field."""
    policy = fit_city_policy(examples, records)
    if policy is None:
        return {}
    city = frozenset(i for i, r in enumerate(records) if _overridden_fields(r))
    return policy.relabel(examples, skip=city)
