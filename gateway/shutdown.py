"""How a long-running command waits to be stopped (the gateway, the demo, a triage worker)."""

from __future__ import annotations

import signal
import threading


def wait_for_signal(stop: threading.Event, duration_s: float | None = None) -> None:
    """Block until SIGINT/SIGTERM (or ``duration_s``), then set ``stop``."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait(duration_s)
    stop.set()
