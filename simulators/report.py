"""What a fleet run did: counts a test or a benchmark can check against what was stored."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from devices.payloads import Telemetry
from devices.topics import Channel
from simulators.device import SimMessage


@dataclass
class DeviceCounts:
    telemetry: int = 0
    values: int = 0  # metric values = telemetry rows the platform should store
    events: int = 0
    statuses: int = 0


@dataclass
class Tally:
    """Logical message counts (before encoding), overall and per device."""

    telemetry: int = 0
    values: int = 0
    events: int = 0
    statuses: int = 0
    per_device: dict[str, DeviceCounts] = field(default_factory=dict)

    def add(self, msg: SimMessage) -> None:
        dc = self.per_device.get(msg.device_id)
        if dc is None:
            dc = self.per_device[msg.device_id] = DeviceCounts()
        ch = msg.channel
        if ch is Channel.TELEMETRY:
            assert isinstance(msg.message, Telemetry)
            n = len(msg.message.metrics)
            self.telemetry += 1
            self.values += n
            dc.telemetry += 1
            dc.values += n
        elif ch is Channel.EVENT:
            self.events += 1
            dc.events += 1
        else:
            self.statuses += 1
            dc.statuses += 1


@dataclass
class FleetProgress:
    t_s: float  # simulated seconds published so far
    duration_s: float
    wall_s: float
    sent: int  # publishes handed to MQTT
    acked: int  # publishes the broker acknowledged
    telemetry: int
    events: int

    @property
    def msgs_per_s(self) -> float:
        return self.acked / self.wall_s if self.wall_s > 0 else 0.0


@dataclass
class FleetReport:
    run_id: str
    start: datetime  # t=0 of the simulated clock
    end: datetime  # where the simulated clock stopped
    duration_s: float  # simulated seconds covered
    wall_s: float
    protocol: str
    published: dict[str, int]  # per topic channel, acknowledged by the broker (QoS 1)
    sent: dict[str, int]  # per topic channel, handed to a connection
    telemetry_messages: int
    telemetry_values: int  # expected telemetry rows (narrow table: one per metric value)
    events: int
    statuses: int  # online/changes/offline from the devices (not reconnect repeats)
    per_device: dict[str, DeviceCounts]
    incidents: int  # ground-truth records
    unacked: int  # publishes never acknowledged (0 unless the broker went away)
    rejected: int  # PUBACKs with a failure reason
    reconnects: int
    connections: int
    stopped_early: bool
    truth_path: Path | None = None

    @property
    def total_published(self) -> int:
        return sum(self.published.values())

    @property
    def msgs_per_s(self) -> float:
        return self.total_published / self.wall_s if self.wall_s > 0 else 0.0

    def summary(self) -> str:
        chans = ", ".join(f"{k} {v:,}" for k, v in sorted(self.published.items()))
        line = (f"published {self.total_published:,} ({chans}) = {self.telemetry_messages:,} "
                f"telemetry with {self.telemetry_values:,} values, {self.events:,} events, "
                f"{self.statuses:,} statuses from {len(self.per_device):,} devices in "
                f"{self.wall_s:.1f}s ({self.msgs_per_s:,.0f} msg/s)")
        if self.unacked or self.rejected:
            line += f"; UNACKED {self.unacked:,}, REJECTED {self.rejected:,}"
        if self.truth_path is not None:
            line += f"; {self.incidents} incident(s) -> {self.truth_path}"
        if self.stopped_early:
            line += " (stopped early)"
        return line

    def to_dict(self, per_device: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        d["truth_path"] = str(self.truth_path) if self.truth_path else None
        d["msgs_per_s"] = round(self.msgs_per_s, 1)
        if not per_device:
            d.pop("per_device")
        return d
