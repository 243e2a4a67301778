"""An append-only local journal for batches the database cannot take right now.

During a database outage the writer journals each batch here (fsync'd) and then
acknowledges its MQTT messages, so neither the broker's queue nor the gateway's memory has
to hold the backlog. When the database is back, the journal is replayed through the same
dedupe-safe writer and cleared; a crash mid-replay just replays again (nothing twice: the
store's unique indexes decide). The parsed events and the sightings of the devices not yet
in the registry travel with the rows: batch listeners (observations for triage) see a
journaled batch when it is replayed, so a crash during the outage cannot lose the
observations it would have made, nor where their devices are.
"""

from __future__ import annotations

import copy
import logging
import os
import pickle
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

from gateway.store.batch import Batch, DeviceSeen

log = logging.getLogger(__name__)
_LEN = struct.Struct("!Q")


def sightings(batch: Batch, pending: dict[str, DeviceSeen]) -> dict[str, DeviceSeen]:
    """Copies of the sightings of the batch's devices that the registry has not taken yet."""
    ids = ({r[1] for r in batch.telemetry} | {r[1] for r in batch.positions}
           | {r[2] for r in batch.events} | {r[2] for r in batch.statuses})
    return {dev: copy.copy(pending[dev]) for dev in ids if dev in pending}


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

    def append(self, batch: Batch, devices: dict[str, DeviceSeen] | None = None) -> bool:
        """Journal the batch's rows (and device sightings the registry has not taken yet);
        False when the journal is full (then the caller waits)."""
        record = pickle.dumps(
            (batch.telemetry, batch.positions, batch.events, batch.statuses, batch.dead_letters,
             batch.ros2_raw, batch.event_models, devices or {}), protocol=pickle.HIGHEST_PROTOCOL)
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

    def batches_in_file(self) -> Iterator[tuple[Batch, dict[str, DeviceSeen]]]:
        if not self.path.exists():
            return
        for data in self._records():
            record = pickle.loads(data)  # our journal
            telemetry, positions, events, statuses, dead, ros2_raw = record[:6]
            # A journal written before events and sightings were kept has six parts.
            event_models, devices = record[6:8] if len(record) >= 8 else ([], {})
            yield (Batch(telemetry=telemetry, positions=positions, events=events, statuses=statuses,
                         dead_letters=dead, ros2_raw=ros2_raw, event_models=event_models), devices)

    def clear(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)
            self.batches = 0
