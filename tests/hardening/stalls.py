"""Fault injection for the model stages: a detector and a llama.cpp model that hang or crash.

They stand in for the real models only where those fail in ways no test can provoke on
demand (a wedged GPU kernel, a generation that never yields a token); the gateway code
around them is the production code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from vision.detector import Detection, DetectorConfig


class StallingDetector:
    """Blocks every ``detect`` until released; afterwards raises (a crashing model)."""

    name = "stalling"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls = 0

    def factory(self, _config: DetectorConfig) -> StallingDetector:
        return self

    def warmup(self) -> None:
        """Nothing to warm up: the stall is the point."""

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        self.calls += 1
        self.entered.set()
        self.release.wait()
        raise RuntimeError("injected detector crash")


class StalledLlama:
    """Enough of ``llama_cpp.Llama`` for ``LlmBackend``: tokenizes, but generation never yields
    a token until released (so the backend's per-token cancel check never runs)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return list(range(len(text) // 4 + 1))

    def create_chat_completion(self, **_kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls += 1
        return self._stream()

    def _stream(self) -> Iterator[dict[str, Any]]:
        self.release.wait()
        yield {"choices": [{"delta": {"content": "{"}, "finish_reason": None}]}

