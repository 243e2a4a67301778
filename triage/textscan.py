"""Find lexicon terms and cues in one clause of report text.

Terms and cues are matched in separate layers; within a layer the longest match wins and
matches do not overlap, so "fire hydrant" beats "fire" and "burning garbage" beats
"burning". A match closely preceded by a negation ("没有人受伤", "nobody injured") is
dropped; one preceded by a diminutive ("有点积水", "a little smoke") is one level milder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triage import lexicon
from triage.lexicon import Cue
from triage.models import Category, Severity


@dataclass(frozen=True)
class Hit:
    term: str
    start: int
    end: int
    category: Category | None = None
    severity: Severity | None = None
    cue: Cue | None = None
    weak: bool = False


@dataclass(frozen=True)
class _Entry:
    pattern: re.Pattern[str]
    term: str
    category: Category | None = None
    severity: Severity | None = None
    cue: Cue | None = None
    stop: bool = False


def _word(term: str) -> re.Pattern[str]:
    if term.isascii():  # whole words only: "fire" is not in "fireworks" or "fire_rescue"
        return re.compile(r"(?<![a-z_])" + re.escape(term) + r"(?![a-z_])", re.I)
    return re.compile(re.escape(term))


def _entries() -> list[_Entry]:
    out = [_Entry(_word(t), t, c, s) for c, ts in lexicon.TERMS.items() for t, s in ts]
    out += [_Entry(_word(t), t, cue=q) for q, ts in lexicon.CUES.items() for t in ts]
    out += [_Entry(_word(t), t, stop=True) for t in lexicon.STOP_TERMS]
    out += [_Entry(re.compile(p, re.I), c.value, c, s) for p, c, s in lexicon.COMPOUNDS]
    out += [_Entry(re.compile(p, re.I), q.value, cue=q) for p, q in lexicon.CUE_COMPOUNDS]
    return out


_ENTRIES = _entries()
# "无" counts unless it starts 无人机 (drone); a bare "不" is too common ("不远处").
_NEG_ZH = re.compile(r"没有|没|未|不是|并无|无(?!人机)")
_NEG_EN = re.compile(r"\b(no|not|nobody|none|without|no one|never|isn't|wasn't|aren't)\b", re.I)
_DIM = re.compile(r"(" + lexicon.DIMINUTIVE + r")\s*$", re.I)
# English auxiliaries are dropped before matching so "the tree is down", "water is rising"
# and "the road has collapsed" meet the terms "tree down", "water rising", "road collapsed".
_AUX = re.compile(r"\b(is|are|was|were|has been|have been|has|have|had|got)\s+", re.I)


def normalize(text: str) -> str:
    return _AUX.sub("", text)


def negated(text: str, start: int) -> bool:
    """True if a negation word closely precedes position ``start``."""
    if _NEG_ZH.search(text[max(0, start - 4) : start]):
        return True
    words = text[max(0, start - 24) : start].split()[-3:]
    return bool(_NEG_EN.search(" ".join(words)))


def diminished(text: str, start: int) -> bool:
    return bool(_DIM.search(text[max(0, start - 12) : start]))


def scan(text: str) -> list[Hit]:
    """All term and cue hits of ``text`` (one clause), in text order."""
    text = normalize(text)
    layers: dict[bool, list[tuple[int, int, _Entry]]] = {True: [], False: []}
    for entry in _ENTRIES:
        for m in entry.pattern.finditer(text):
            if m.end() > m.start():
                layers[entry.cue is not None].append((m.start(), m.end(), entry))
    hits: list[Hit] = []
    for found in layers.values():
        found.sort(key=lambda t: (t[0] - t[1], t[0]))  # longest first, then leftmost
        taken: list[tuple[int, int]] = []
        for start, end, e in found:
            if any(start < te and ts < end for ts, te in taken):
                continue
            taken.append((start, end))
            if e.stop or negated(text, start):
                continue
            severity = e.severity
            if severity is not None and diminished(text, start):
                severity = severity.shifted(-1)
            hits.append(Hit(e.term, start, end, e.category, severity, e.cue,
                            weak=e.term in lexicon.WEAK_TERMS))
    return sorted(hits, key=lambda h: h.start)
