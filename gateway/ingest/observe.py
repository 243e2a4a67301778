"""Committed ingest batches → observations for triage.

Device events (a robot's ``spill``, a platform ``implausible_value``, a drone's onboard
detection) become observations as they are; telemetry becomes an observation only when a
metric enters a higher threshold level (``triage.thresholds``: documented levels with
hysteresis, so a value hovering at a line does not flap). Observations are stored and
queued in ``triage_inbox`` in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from devices.payloads import DEVICE_EVENT_LABELS, ROBOT_EVENT_LABELS, VISION_LABELS, Event
from devices.topics import Topic
from gateway.store.batch import Batch
from gateway.store.observations import ObservationRow, insert_observations
from triage.thresholds import ThresholdTracker

log = logging.getLogger(__name__)
DeviceLookup = Callable[[str], tuple[str, str] | None]  # device_id -> (district, kind)
MAX_PENDING = 10_000


def event_source(kind: str, label: str) -> str | None:
    if label in DEVICE_EVENT_LABELS and (kind == "sensor" or label != "low_battery"):
        return "device"
    if label in ROBOT_EVENT_LABELS:
        return "robot" if kind == "robot" else "device"
    if label in VISION_LABELS:
        return "vision"  # a drone's or robot's own onboard detection
    return None  # command acknowledgements and task progress are not observations


def event_observation(topic: Topic, e: Event) -> ObservationRow | None:
    source = event_source(topic.kind.value, e.label)
    if source is None:
        return None
    return ObservationRow(
        ts=e.ts, observation_id=f"{topic.device_id}:{e.msg_id}", source=source,
        device_id=topic.device_id, device_kind=topic.kind.value, district=topic.district,
        label=e.label, confidence=e.confidence, text=e.text, value=e.value,
        metric=e.unit if e.label == "implausible_value" else None,
        lat=e.position.lat if e.position else None, lon=e.position.lon if e.position else None,
    )


class ObservationExtractor:
    """A batch listener for ``IngestWorker`` (runs on its writer thread, after the commit)."""

    def __init__(self, database_url: str, devices: DeviceLookup) -> None:
        self.database_url = database_url
        self.devices = devices
        self.tracker = ThresholdTracker()
        self.positions: dict[str, tuple[float, float]] = {}
        self.pending: list[ObservationRow] = []
        self.emitted = 0
        self.dropped = 0
        self._conn: psycopg.Connection[Any] | None = None

    def __call__(self, batch: Batch) -> None:
        rows = self.extract(batch)
        if rows or self.pending:
            self._store(rows)

    def extract(self, batch: Batch) -> list[ObservationRow]:
        for _ts, device_id, lat, lon, _alt, _msg in batch.positions:
            self.positions[device_id] = (lat, lon)
        rows = [r for topic, e in batch.event_models if (r := event_observation(topic, e)) is not None]
        for ts, device_id, metric, value, msg_id, _received in batch.telemetry:
            change = self.tracker.update(device_id, metric, value, ts=ts, device_kind=None)
            if change is None or change.observation is None or change.observation.source.value != "sensor":
                continue  # implausible values already arrive as device events from ingest
            rows.append(self._threshold_row(ts, device_id, metric, value, msg_id))
        return rows

    def _threshold_row(self, ts: datetime, device_id: str, metric: str, value: float, msg_id: str
                       ) -> ObservationRow:
        district, kind = self.devices(device_id) or (None, None)
        pos = self.positions.get(device_id) or self._registry_position(device_id)
        return ObservationRow(
            ts=ts, observation_id=f"{device_id}:{msg_id}:{metric}", source="sensor",
            device_id=device_id, device_kind=kind, district=district, metric=metric, value=value,
            lat=pos[0] if pos else None, lon=pos[1] if pos else None,
        )

    def _registry_position(self, device_id: str) -> tuple[float, float] | None:
        try:
            row = self._connection().execute(
                "SELECT lat, lon FROM devices WHERE device_id = %s AND lat IS NOT NULL", (device_id,)).fetchone()
            self._connection().commit()
        except psycopg.Error:
            return None
        if row:
            self.positions[device_id] = (row[0], row[1])
            return (row[0], row[1])
        return None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.database_url, connect_timeout=5)
        return self._conn

    def _store(self, rows: list[ObservationRow]) -> None:
        todo = self.pending + rows
        try:
            self.emitted += insert_observations(self._connection(), todo)
            self.pending = []
        except psycopg.Error as err:
            if self._conn is not None and not self._conn.closed:
                self._conn.rollback()
            log.warning("observations deferred (%d): %s", len(todo), err)
            self.pending = todo[-MAX_PENDING:]
            self.dropped += len(todo) - len(self.pending)


