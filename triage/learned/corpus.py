"""Where the labelled data lives: the training corpus and the frozen holdout (``triage/corpus``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"
TRAIN_DIR = CORPUS_DIR / "train"
HOLDOUT_DIR = CORPUS_DIR / "holdout"


def train_files() -> list[Path]:
    return sorted(TRAIN_DIR.glob("*.jsonl"))


def holdout_files() -> list[Path]:
    return sorted(HOLDOUT_DIR.glob("*.jsonl"))


def holdout_lines() -> list[str]:
    return [line for path in holdout_files() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def record_meta(record: dict[str, Any]) -> dict[str, Any]:
    """A labelled record's ``meta`` (writer, kind, lang, ...), empty when it has none."""
    meta = record.get("meta")
    return meta if isinstance(meta, dict) else {}
