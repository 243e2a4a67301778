"""What one write transaction carries: rows per table, device sightings and the acks to
send once it is committed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from devices.payloads import Event
from devices.topics import Topic


@dataclass(frozen=True, slots=True)
class AckToken:
    """A broker delivery to acknowledge once the batch holding it is committed (``gateway.ingest.bus``)."""

    generation: int  # which connection delivered it: a mid is only valid on that one
    mid: int
    qos: int


TelemetryRow = tuple[datetime, str, str, float, str, datetime]
PositionRow = tuple[datetime, str, float, float, float | None, str]
EventRow = tuple[
    datetime, datetime, str, str, str, str, str, float | None, str | None, float | None,
    str | None, float | None, float | None, str | None,
]
StatusRow = tuple[datetime, datetime, str, str, float | None, str]
DeadLetterRow = tuple[datetime, str, str, int, str, str | None]
Ros2RawRow = tuple[datetime, datetime, str, str, str, str, bytes]


@dataclass(slots=True)
class DeviceSeen:
    district: str
    kind: str
    first_seen: datetime
    last_seen: datetime
    messages: int = 0
    state: str | None = None
    state_ts: datetime | None = None
    battery_pct: float | None = None
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    position_ts: datetime | None = None
    firmware: str | None = None
    clock_skew_s: float | None = None


@dataclass(slots=True)
class Batch:
    created: float = field(default_factory=time.monotonic)
    telemetry: list[TelemetryRow] = field(default_factory=list)
    positions: list[PositionRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    statuses: list[StatusRow] = field(default_factory=list)
    dead_letters: list[DeadLetterRow] = field(default_factory=list)
    ros2_raw: list[Ros2RawRow] = field(default_factory=list)
    acks: list[AckToken] = field(default_factory=list)
    # Handed to listeners (triage, live feed) after the commit.
    event_models: list[tuple[Topic, Event]] = field(default_factory=list)
    messages: int = 0

    @property
    def rows(self) -> int:
        return (len(self.telemetry) + len(self.positions) + len(self.events)
                + len(self.statuses) + len(self.dead_letters) + len(self.ros2_raw))
