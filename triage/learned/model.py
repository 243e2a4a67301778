"""The trained text model at run time: numpy only, loaded from one ``.npz`` artefact.

The artefact holds the vocabulary and idf weights (sublinear tf-idf, L2-normalised rows, as
scikit-learn's ``TfidfVectorizer`` computes them at training), one linear head per output
(category, severity, agency), and the review calibrator. Loading takes well under a second; nothing is fetched.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HEADS = ("category", "severity", "agency")
DEFAULT_MODEL = Path(__file__).parent / "weights" / "triage-linear.npz"


class ModelFileError(Exception):
    """The artefact is missing, unreadable or of another format."""


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    out: np.ndarray = e / e.sum()
    return out


@dataclass(frozen=True)
class Head:
    labels: tuple[str, ...]
    coef: np.ndarray  # (n_labels, n_features) float32
    intercept: np.ndarray

    def proba(self, index: np.ndarray, values: np.ndarray) -> np.ndarray:
        return softmax(self.coef[:, index] @ values + self.intercept)


@dataclass(frozen=True)
class Prediction:
    category: dict[str, float]
    severity: dict[str, float]
    agency: dict[str, float]
    known_tokens: int


def vectorise(vocab: dict[str, int], idf: np.ndarray, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sparse sublinear tf-idf row, L2-normalised (what ``TfidfVectorizer`` gives at training)."""
    counts = Counter(vocab[t] for t in tokens if t in vocab)
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    values = (1.0 + np.log(tf)) * idf[index]
    values /= np.linalg.norm(values)
    return index, values


def predict(vocab: dict[str, int], idf: np.ndarray, heads: dict[str, Head], tokens: list[str]) -> Prediction:
    """Every head's probabilities for one token list (the runtime and the trainer's folds)."""
    index, values = vectorise(vocab, idf, tokens)
    probs = {name: dict(zip(heads[name].labels, map(float, heads[name].proba(index, values)), strict=True))
             for name in HEADS}
    return Prediction(probs["category"], probs["severity"], probs["agency"], known_tokens=len(index))


class TextModel:
    """Vocabulary + tf-idf + linear heads + review calibrator."""

    def __init__(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
            with np.load(path, allow_pickle=False) as data:
                self.meta: dict[str, Any] = json.loads(str(data["meta"]))
                vocab = [str(t) for t in data["vocab"]]
                self.idf = data["idf"].astype(np.float64)
                self.heads = {
                    name: Head(tuple(self.meta["labels"][name]), data[f"{name}_coef"].astype(np.float32),
                               data[f"{name}_intercept"].astype(np.float64))
                    for name in HEADS
                }
                self.calibrator = data["calibrator"].astype(np.float64)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFileError(f"cannot load triage model {path}: {exc}") from exc
        if self.meta.get("format") != "urbanops-triage-linear-1":
            raise ModelFileError(f"{path} is not an urbanops linear triage model")
        self.vocab = {t: i for i, t in enumerate(vocab)}
        self.path = path
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.version: str = str(self.meta["version"])
        self.review_threshold: float = float(self.meta["review_threshold"])

    def predict(self, tokens: list[str]) -> Prediction:
        return predict(self.vocab, self.idf, self.heads, tokens)

    def review_probability(self, features: list[float]) -> float:
        """Calibrated P(ticket right) from the decision's features (see ``calibration``)."""
        z = float(self.calibrator[0] + np.dot(self.calibrator[1:], features))
        return 1.0 / (1.0 + math.exp(-z))
