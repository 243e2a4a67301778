"""What the text model reads of an incident: screened report text as character and word
n-grams, plus a few context tokens (place tags, hour of day, the rules' own signals).

Both training and the runtime call ``incident_tokens``; the artefact stores the vocabulary
built from these tokens, so the two can never disagree.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import tzinfo

from triage.injection import screen
from triage.models import DEFAULT_TZ, Incident, Source
from triage.signals import Findings, collect

_SPACES = re.compile(r"\s+")
_LATIN_WORD = re.compile(r"[a-z0-9][a-z0-9'_-]*")
_CJK = re.compile(r"[\u3400-\u9fff]")
_REPEATS = re.compile(r"(.)\1{3,}")  # "!!!!!!" and "啊啊啊啊啊" read as four
CHAR_NGRAMS = (1, 2, 3, 4)


@dataclass(frozen=True)
class IncidentText:
    """The citizens' text of an incident that the model may read (quarantined clauses removed)."""

    text: str
    quarantined: int
    has_text: bool


def normalise(text: str) -> str:
    """NFKC (full-width to half-width), lower case, runs of one character shortened."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACES.sub(" ", _REPEATS.sub(r"\1\1\1\1", text)).strip()


def incident_text(incident: Incident) -> IncidentText:
    kept: list[str] = []
    quarantined = 0
    for obs in incident.observations:
        # Citizens' words only: a robot's or device's note belongs to its event, which the
        # rules read by its label (a spill stays a spill, whatever the robot's note says).
        if not obs.text or obs.source is not Source.CITIZEN:
            continue
        screened = screen(obs.text)
        quarantined += len(screened.quarantined)
        kept.extend(screened.kept)
    text = normalise(" | ".join(kept))
    return IncidentText(text=text, quarantined=quarantined, has_text=bool(_CJK.search(text) or
                                                                         _LATIN_WORD.search(text)))


def text_tokens(text: str) -> list[str]:
    """Character 1–4-grams over the whole text and latin word uni/bigrams."""
    tokens: list[str] = []
    padded = f" {text} "
    for n in CHAR_NGRAMS:
        tokens.extend("c:" + padded[i:i + n] for i in range(len(padded) - n + 1)
                      if padded[i:i + n].strip())
    words = _LATIN_WORD.findall(text)
    tokens.extend("w:" + w for w in words)
    tokens.extend(f"w:{a}_{b}" for a, b in itertools.pairwise(words))
    return tokens


def context_tokens(incident: Incident, findings: Findings, tz: tzinfo = DEFAULT_TZ) -> list[str]:
    """Where and when, and what the rules saw (their signals are evidence, not a verdict)."""
    tokens = [f"x:place={t}" for t in (incident.location.place_tags if incident.location else [])]
    if incident.opened_at is not None:
        hour = incident.opened_at.astimezone(tz).hour
        tokens.append("x:night" if hour >= 22 or hour < 6 else "x:day")
    for s in findings.signals:
        origin = "text" if s.source is Source.CITIZEN else "machine"
        tokens.append(f"x:{origin}={s.category.value}")
        tokens.append(f"x:{origin}={s.category.value}/{s.severity.value}")
    tokens.extend(f"x:cue={c.value}" for c in sorted(findings.cues, key=lambda c: c.value))
    tokens.extend(sorted({f"x:src={o.source.value}" for o in incident.observations}))
    # Nothing says whether instructions were quarantined: their presence must move no field
    # (an early model learned "has an instruction -> trivial" from the manipulation records).
    return tokens


def incident_tokens(incident: Incident, findings: Findings | None = None,
                    tz: tzinfo = DEFAULT_TZ) -> list[str]:
    findings = findings if findings is not None else collect(
        incident.observations, incident.location.place_tags if incident.location else [])
    return text_tokens(incident_text(incident).text) + context_tokens(incident, findings, tz)
