"""Committed ingest batches → observations for triage.

Device events (a robot's ``spill``, a platform ``implausible_value``, a drone's onboard
detection) become observations as they are; telemetry becomes an observation only when a
metric enters a higher threshold level (``triage.thresholds``: documented levels with
hysteresis, so a value hovering at a line does not flap). Observations are stored and
queued in ``triage_inbox`` in one transaction.

The hysteresis state starts, for each (device, metric) this process has not seen, from the
database: the level of the device's last stored reading, but no higher than the level of its
last stored observation. A gateway restarted, or one that took a device's traffic over from
another, does not raise again a level already raised; one whose observation was lost (a crash
between the batch's commit and the observation's) is raised again by the next reading.
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
from triage.thresholds import THRESHOLDS, ThresholdTracker

log = logging.getLogger(__name__)
DeviceLookup = Callable[[str], tuple[str, str] | None]  # device_id -> (district, kind)
MAX_PENDING = 10_000
# Each key's last reading before the batch and its last stored threshold observation, a day
# back at most (the telemetry dedupe index and observations_device_metric answer each lookup).
PREVIOUS_SQL = """
SELECT k.device_id, k.metric,
       (SELECT t.value FROM telemetry t
        WHERE t.device_id = k.device_id AND t.metric = k.metric
          AND t.ts < k.before AND t.ts > k.before - interval '1 day'
        ORDER BY t.ts DESC LIMIT 1),
       (SELECT o.value FROM observations o
        WHERE o.source = 'sensor' AND o.device_id = k.device_id AND o.metric = k.metric
          AND o.ts < k.before AND o.ts > k.before - interval '1 day'
        ORDER BY o.ts DESC LIMIT 1)
FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) AS k(device_id, metric, before)
"""


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
        self.seeded = 0
        self._conn: psycopg.Connection[Any] | None = None

    def __call__(self, batch: Batch) -> None:
        rows = self.extract(batch)
        if rows or self.pending:
            self._store(rows)

    def extract(self, batch: Batch) -> list[ObservationRow]:
        for _ts, device_id, lat, lon, _alt, _msg in batch.positions:
            self.positions[device_id] = (lat, lon)
        rows = [r for topic, e in batch.event_models if (r := event_observation(topic, e)) is not None]
        self._seed(batch)
        for ts, device_id, metric, value, msg_id, _received in batch.telemetry:
            change = self.tracker.update(device_id, metric, value, ts=ts, device_kind=None)
            if change is None or change.observation is None or change.observation.source.value != "sensor":
                continue  # implausible values already arrive as device events from ingest
            rows.append(self._threshold_row(ts, device_id, metric, value, msg_id))
        return rows

    def _seed(self, batch: Batch) -> None:
        """Hysteresis state for keys this process has not seen, rebuilt from the database."""
        first: dict[tuple[str, str], datetime] = {}
        for ts, device_id, metric, _value, _msg, _received in batch.telemetry:
            key = (device_id, metric)
            if metric in THRESHOLDS and not self.tracker.knows(device_id, metric):
                first[key] = min(ts, first.get(key, ts))
        if not first:
            return
        try:
            conn = self._connection()
            found = conn.execute(PREVIOUS_SQL, ([k[0] for k in first], [k[1] for k in first],
                                                list(first.values()))).fetchall()
            conn.commit()
        except psycopg.Error as err:  # without history a key starts clear, as it always did
            if self._conn is not None and not self._conn.closed:
                self._conn.rollback()
            log.warning("hysteresis state not rebuilt for %d keys: %s", len(first), err)
            return
        for device_id, metric, reading, raised in found:
            self.tracker.seed(device_id, metric, reading, raised)
        self.seeded += len(found)

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


