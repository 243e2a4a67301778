"""The city's emergency plans as a searchable knowledge base (BM25 over plan sections).

One index per language: a Chinese ticket cites the Chinese plan, an English one the English
plan, and both versions number the same sections, so a citation means the same text in either.
Each plan section is one document (the plan's title and the section's heading count twice,
because they say what the section is about in the words a report would use).

``search`` prefers plans written for the categories asked (others count at 0.3 of their
score: a crowd at a light show triaged as a facility fault still finds the crowd plan) and
returns sections whose score clears an absolute floor and a share of the best score: a weak
match is no citation at all, because a wrong citation costs a duty officer
more than a missing one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rank_bm25 import BM25Okapi

from citypack.errors import Problem
from citypack.plans import Plan
from citypack.tokens import tokens

# Tuned on cities/shenzhen-demo/evaluation/citations.dev.jsonl only (README "Knowledge base").
MIN_SCORE = 0.13  # share of the query's best possible score
RELATIVE = 0.7
OTHER_PLANS = 0.3  # weight of plans not written for the ticket's categories (0: never cite them)
BM25_K1, BM25_B = 1.5, 0.75


@dataclass(frozen=True)
class Words:
    """``knowledge.yaml``: people's words -> the plans' words, per language (query expansion)."""

    by_lang: Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]] = field(default_factory=dict)

    def expand(self, query: str, lang: str) -> str:
        lowered = query.lower()
        added = [plan_words for plan_words, said in self.by_lang.get(lang[:2], ())
                 if any(_said(w, lowered, lang) for w in said)]
        return " ".join([query, *added])


def _said(word: str, text: str, lang: str) -> bool:
    if lang.startswith("zh"):
        return word in text
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None


def read_words(root: Path, problems: list[Problem]) -> Words:
    path = root / "knowledge.yaml"
    if not path.exists():
        return Words()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        problems.append(Problem("knowledge.yaml", f"not readable YAML: {err}"))
        return Words()
    words = raw.get("words") if isinstance(raw, dict) else None
    if not isinstance(words, dict):
        problems.append(Problem("knowledge.yaml", "a mapping 'words: {lang: {plan words: [what people say]}}'"))
        return Words()
    out: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
    for lang, table in words.items():
        if not isinstance(table, dict):
            problems.append(Problem("knowledge.yaml", "a mapping of plan words to lists", field=f"words.{lang}"))
            continue
        rows = []
        for plan_words, said in table.items():
            if not isinstance(said, list) or not said or not all(isinstance(w, str) and w.strip() for w in said):
                problems.append(Problem("knowledge.yaml", "a non-empty list of words",
                                        field=f"words.{lang}.{plan_words}"))
                continue
            rows.append((str(plan_words), tuple(w.lower() for w in said)))
        out[str(lang)] = tuple(rows)
    return Words(out)


@dataclass(frozen=True)
class Passage:
    """One plan section, as retrieved for a query."""

    plan_id: str
    lang: str
    plan_title: str
    section: int
    heading: str
    text: str
    file: str
    score: float


@dataclass(frozen=True)
class _Doc:
    plan: Plan
    number: int
    heading: str
    text: str


class _LangIndex:
    def __init__(self, plans: Sequence[Plan], k1: float, b: float) -> None:
        self.docs = [_Doc(p, s.number, s.heading, s.text) for p in plans for s in p.sections]
        corpus = [tokens(f"{d.plan.title} {d.heading} {d.plan.title} {d.heading} {d.text}") for d in self.docs]
        self.bm25 = BM25Okapi(corpus, k1=k1, b=b) if corpus else None

    def scores(self, terms: list[str]) -> list[float]:
        """BM25 as a share of the most this query could score (every term, saturated): 0 to 1.

        Raw BM25 grows with the query's length and with the rarity of its words in this city's
        plans, so a raw floor tuned on one pack means nothing in another (a two-plan town's
        best matches score a third of Shenzhen's); the share does not.
        """
        if self.bm25 is None:
            return [0.0] * len(self.docs)
        terms = [t for t in terms if t in self.bm25.idf]
        ceiling = sum(max(self.bm25.idf[t], 0.0) for t in terms) * (self.bm25.k1 + 1)
        if ceiling <= 0:
            return [0.0] * len(self.docs)
        return [float(s) / ceiling for s in self.bm25.get_scores(terms)]


class PlanIndex:
    """BM25 over every section of every plan, per language."""

    def __init__(self, plans: Sequence[Plan], languages: Sequence[str] = ("zh", "en"), words: Words | None = None,
                 k1: float = BM25_K1, b: float = BM25_B) -> None:
        self.words = words or Words()
        by_lang: dict[str, list[Plan]] = {}
        for p in plans:
            by_lang.setdefault(p.lang, []).append(p)
        self._order = [lang for lang in languages if lang in by_lang] + sorted(set(by_lang) - set(languages))
        self._index = {lang: _LangIndex(ps, k1, b) for lang, ps in by_lang.items()}

    @property
    def languages(self) -> list[str]:
        return list(self._order)

    def sections(self, lang: str) -> int:
        index = self._index.get(lang)
        return len(index.docs) if index else 0

    def search(self, query: str, lang: str, categories: Collection[str] = (), k: int = 3,
               min_score: float = MIN_SCORE, relative: float = RELATIVE,
               other_plans: float = OTHER_PLANS) -> list[Passage]:
        """The best ``k`` sections for ``query``; plans not for ``categories`` (if given) weigh ``other_plans``."""
        want = lang[:2]
        chosen = want if want in self._index else (self._order[0] if self._order else None)
        if chosen is None:
            return []
        index = self._index[chosen]
        wanted = set(categories)
        scored = [(s if not wanted or wanted & {c.value for c in d.plan.categories} else s * other_plans, d)
                  for s, d in zip(index.scores(tokens(self.words.expand(query, chosen))), index.docs, strict=True)]
        scored = [(s, d) for s, d in scored if s > 0]
        scored.sort(key=lambda sd: (-sd[0], sd[1].plan.id, sd[1].number))
        if not scored or scored[0][0] < min_score:
            return []
        floor = max(min_score, scored[0][0] * relative)
        return [Passage(d.plan.id, d.plan.lang, d.plan.title, d.number, d.heading, d.text, d.plan.file, round(s, 3))
                for s, d in scored[:k] if s >= floor]
