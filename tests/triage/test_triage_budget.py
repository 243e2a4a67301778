"""The review budget flags the least confident share of recent tickets, forced reviews included."""

from __future__ import annotations

import random

import pytest

from triage.learned.budget import ReviewBudget


def _run(budget: ReviewBudget, confidences: list[float], forced_every: int = 0) -> list[bool]:
    flags = []
    for i, c in enumerate(confidences):
        forced = bool(forced_every) and i % forced_every == 0
        low, _ = budget.decide(c, forced=forced)
        flags.append(low or forced)
    return flags


def test_a_fresh_budget_uses_the_artefact_threshold_until_warm() -> None:
    budget = ReviewBudget(0.2, prior=0.7, warmup=10)
    assert budget.threshold() == 0.7
    assert budget.decide(0.69, forced=False) == (True, 0.7)
    assert budget.decide(0.71, forced=False) == (False, 0.7)


def test_the_load_follows_the_budget_whatever_the_confidences() -> None:
    rng = random.Random(3)
    for spread in ((0.5, 1.0), (0.9, 1.0), (0.97, 0.999)):  # harder and easier cities
        budget = ReviewBudget(0.22, prior=0.67, window=400, warmup=50)
        flags = _run(budget, [rng.uniform(*spread) for _ in range(2000)])
        load = sum(flags[400:]) / len(flags[400:])
        assert 0.18 <= load <= 0.25, (spread, load)


def test_the_least_confident_are_the_ones_flagged() -> None:
    budget = ReviewBudget(0.25, prior=0.5, window=100, warmup=100)
    for i in range(100):
        budget.decide(0.90 + i / 1000, forced=False)  # 0.900 … 0.999
    assert budget.decide(0.92, forced=False)[0]
    assert not budget.decide(0.99, forced=False)[0]


def test_forced_reviews_are_paid_from_the_same_budget() -> None:
    rng = random.Random(5)
    budget = ReviewBudget(0.22, prior=0.67, window=400, warmup=50)
    flags = _run(budget, [rng.uniform(0.8, 1.0) for _ in range(2000)], forced_every=10)
    load = sum(flags[400:]) / len(flags[400:])
    assert 0.18 <= load <= 0.25, load


def test_more_likely_wrong_than_right_is_always_reviewed() -> None:
    budget = ReviewBudget(0.0, prior=0.67, window=100, warmup=10)
    _run(budget, [0.95] * 50)
    assert budget.decide(0.49, forced=False)[0]
    assert not budget.decide(0.51, forced=False)[0]


def test_a_budget_is_a_share() -> None:
    with pytest.raises(ValueError):
        ReviewBudget(1.5, prior=0.5)


def test_tickets_the_rules_decide_count_in_the_budget() -> None:
    budget = ReviewBudget(0.2, prior=0.67, window=100, warmup=10)
    for _ in range(50):
        budget.observe_rules(flagged=True)  # half the window already under review
    for _ in range(50):
        budget.decide(0.95, forced=False)
    assert budget.threshold() == budget.floor  # nothing left to spend on confidence
    budget = ReviewBudget(0.2, prior=0.67, window=100, warmup=10)
    for _ in range(80):
        budget.observe_rules(flagged=False)
    for i in range(20):
        budget.decide(0.90 + i / 1000, forced=False)
    assert budget.threshold() == 2.0  # every model-decided ticket fits in 20 % of 100
