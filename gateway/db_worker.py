"""A background thread with its own database connection.

The shape the triage, dispatch and webhook services share: start a named daemon thread, keep
one connection that is reopened after it breaks, count a failed pass, roll back and pause before
the loop retries, and close everything on stop. Each service writes only its loop (``_run``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, Self

import psycopg

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]  # injected so tests can move time (SLA, deadlines, backoff)


def utc_now() -> datetime:
    return datetime.now(UTC)


class ErrorCount(Protocol):
    errors: int


class DbWorker:
    name = "worker"
    join_s = 15.0  # how long ``stop`` waits for a pass in progress
    retry_pause_s = 1.0
    stats: ErrorCount

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(self.join_s)
        self._close()
        if self._conn is not None:
            self._conn.close()

    def _close(self) -> None:
        """Release what the service holds besides its connection (still open here)."""

    def _run(self) -> None:
        raise NotImplementedError

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.database_url, connect_timeout=5)
        return self._conn

    def _failed(self, err: psycopg.Error) -> None:
        """A pass failed on the database: count it, roll back, pause; the loop then retries."""
        self.stats.errors += 1
        log.warning("%s pass failed (will retry): %s", self.name, err)
        if self._conn is not None and not self._conn.closed:
            self._conn.rollback()
        self._stop.wait(self.retry_pause_s)
