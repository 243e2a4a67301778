"""Vision observations the database could not take yet: kept in memory and in a local journal.

A frame is acknowledged to the broker when the vision queue takes it, so once its observations
exist the sink is their only holder: during a database outage they wait here (appended to an
fsync'd JSON-lines file beside the evidence images) and are inserted when the database is back;
a gateway that crashes meanwhile finds them in the journal at its next start. Inserting is
idempotent on ``observation_id`` (a deterministic id), so a replay stores nothing twice.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import ValidationError

from gateway.store.observations import ObservationRow

log = logging.getLogger(__name__)


class PendingObservations:
    def __init__(self, path: Path | None, max_rows: int = 100_000) -> None:
        self.path = path  # None: memory only (a sink without a data directory)
        self.max_rows = max_rows
        self.rows: list[ObservationRow] = []
        self.dropped = 0  # over ``max_rows``: counted, the oldest go first

    def __len__(self) -> int:
        return len(self.rows)

    def load(self) -> int:
        """Rows a previous process left in the journal; how many were read."""
        if self.path is None or not self.path.is_file():
            return 0
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                self.rows.append(ObservationRow.model_validate_json(line))
            except ValidationError as err:  # a line torn by a crash mid-write
                log.warning("skipping unreadable line %d of %s: %s", n, self.path, err)
        self._bound()
        return len(self.rows)

    def add(self, rows: list[ObservationRow]) -> None:
        if not rows:
            return
        self.rows.extend(rows)
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.writelines(r.model_dump_json() + "\n" for r in rows)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as err:  # memory still holds them; only a crash now would lose them
                log.warning("cannot journal %d observations in %s: %s", len(rows), self.path, err)
        self._bound()

    def clear(self) -> None:
        self.rows.clear()
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def _bound(self) -> None:
        extra = len(self.rows) - self.max_rows
        if extra > 0:
            del self.rows[:extra]
            self.dropped += extra
