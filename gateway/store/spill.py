"""An append-only local journal for batches the database cannot take right now.

During a database outage the writer journals each batch here (fsync'd) and then
acknowledges its MQTT messages, so neither the broker's queue nor the gateway's memory has
to hold the backlog. When the database is back, the journal is replayed through the same
dedupe-safe writer and cleared; a crash mid-replay just replays again (nothing twice: the
store's unique indexes decide).
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

from gateway.batch import Batch

log = logging.getLogger(__name__)
_LEN = struct.Struct("!Q")


class SpillFile:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.batches = sum(1 for _ in self._records()) if path.exists() else 0

    @property
    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def append(self, batch: Batch) -> bool:
        """Journal the batch's rows; False when the journal is full (then the caller waits)."""
        record = pickle.dumps(
            (batch.telemetry, batch.positions, batch.events, batch.statuses, batch.dead_letters,
             batch.ros2_raw), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self.size + len(record) + _LEN.size > self.max_bytes:
                return False
            with open(self.path, "ab") as f:
                f.write(_LEN.pack(len(record)) + record)
                f.flush()
                os.fsync(f.fileno())
            self.batches += 1
        return True

    def _records(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            while header := f.read(_LEN.size):
                if len(header) < _LEN.size:
                    break
                (length,) = _LEN.unpack(header)
                data = f.read(length)
                if len(data) < length:  # torn last write: it was never acknowledged
                    log.warning("spill journal ends in a partial record; ignoring it")
                    break
                yield data

    def batches_in_file(self) -> Iterator[Batch]:
        if not self.path.exists():
            return
        for data in self._records():
            telemetry, positions, events, statuses, dead, ros2_raw = pickle.loads(data)  # our journal
            yield Batch(telemetry=telemetry, positions=positions, events=events, statuses=statuses,
                        dead_letters=dead, ros2_raw=ros2_raw)

    def clear(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)
            self.batches = 0
