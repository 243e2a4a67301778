"""What every simulated device shares: identity, seeded RNG, msg ids, the simulated clock.

A device is advanced by ``tick(t, dt)`` (``t`` seconds since the run's start) and returns the
messages it would send then. Nothing here touches MQTT or the wall clock, so the same
config, seed and start always give the same messages.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from devices.encoding import DeviceMessage
from devices.geography import District, LatLon
from devices.payloads import DeviceState, Event, Position, Status, Telemetry
from devices.topics import Channel, Kind, Topic

LOCAL_UTC_OFFSET_H = 8.0  # Shenzhen: diurnal cycles follow local time
FIRMWARE = "sim-1.0"


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One message a device sends at ``t`` seconds after the run's start."""

    t: float
    device_id: str
    kind: Kind
    channel: Channel
    topic: Topic  # the device's topic for ``channel`` (the JSON encoding's topic)
    message: DeviceMessage


@dataclass(frozen=True)
class SimContext:
    """Run-wide inputs every device reads: the clock anchor and the message-id namespace."""

    start: datetime  # aware UTC; ts of t=0
    seed: int
    run_id: str  # makes msg ids unique across runs, so reruns are not deduplicated away
    random_events: bool = True
    speed_factor: float = 1.0  # commanded tasks run this many times faster (simulators/obey.py)

    @property
    def start_epoch(self) -> float:
        return self.start.timestamp()

    def ts(self, t: float) -> datetime:
        # Millisecond resolution keeps payloads short and round-trips exact.
        return self.start + timedelta(milliseconds=round(t * 1000))

    def local_hour(self, t: float) -> float:
        return ((self.start_epoch + t) / 3600.0 + LOCAL_UTC_OFFSET_H) % 24.0


# Called with every event a device reports and the scenario incident id that scripted it
# (None for the device's own random events), so the fleet can write ground truth.
EventSink = Callable[[SimMessage, str | None], None]


def ar1(prev: float, sigma: float, dt: float, tau_s: float, rng: random.Random) -> float:
    """One step of an AR(1) process with stationary std ``sigma`` and correlation time tau."""
    phi = math.exp(-dt / tau_s)
    return phi * prev + rng.gauss(0.0, sigma * math.sqrt(1.0 - phi * phi))


def clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


class SimDevice:
    """Base class; subclasses set ``kind`` and implement ``tick``, ``position``, battery."""

    kind: ClassVar[Kind]

    def __init__(self, device_id: str, district: District, ctx: SimContext) -> None:
        self.device_id = device_id
        self.district = district
        self.ctx = ctx
        # Seeded per device id: adding devices never changes the others' streams.
        self.rng = random.Random(f"{ctx.seed}/{device_id}")
        self.phase = self.rng.random()  # fraction of the tick period this device is offset by
        self.state = DeviceState.ONLINE
        self.seq = 0
        self.topics = {
            ch: Topic(district.name, self.kind, device_id, ch)
            for ch in (Channel.TELEMETRY, Channel.STATUS, Channel.EVENT)
        }
        self.on_event: EventSink | None = None

    # -- identity and clock -------------------------------------------------------------
    def next_msg_id(self) -> str:
        self.seq += 1
        return f"{self.device_id}-{self.ctx.run_id}-{self.seq}"

    def message(self, t: float, channel: Channel, msg: DeviceMessage) -> SimMessage:
        return SimMessage(t, self.device_id, self.kind, channel, self.topics[channel], msg)

    # -- what subclasses provide --------------------------------------------------------
    @property
    def battery_pct(self) -> float:
        raise NotImplementedError

    def position(self) -> LatLon:
        raise NotImplementedError

    def altitude_m(self) -> float | None:
        return None

    def tick(self, t: float, dt: float) -> list[SimMessage]:
        raise NotImplementedError

    # -- shared message builders --------------------------------------------------------
    def pos_model(self) -> Position:
        p = self.position()
        alt = self.altitude_m()
        return Position(lat=round(p.lat, 6), lon=round(p.lon, 6),
                        alt_m=None if alt is None else round(alt, 1))

    def status(self, t: float, state: DeviceState | None = None) -> SimMessage:
        if state is not None:
            self.state = state
        msg = Status(
            ts=self.ctx.ts(t), msg_id=self.next_msg_id(), state=self.state,
            battery_pct=round(clamp(self.battery_pct, 0.0, 100.0), 1), firmware=FIRMWARE,
            position=self.pos_model(),
        )
        return self.message(t, Channel.STATUS, msg)

    def telemetry(self, t: float, metrics: dict[str, float], with_position: bool) -> SimMessage:
        # The hot path: built without validation (every generated payload is validated
        # against the model in tests/simulators, and values are rounded and clamped).
        msg = Telemetry.model_construct(
            ts=self.ctx.ts(t), msg_id=self.next_msg_id(), metrics=metrics,
            position=self.pos_model() if with_position else None,
        )
        return self.message(t, Channel.TELEMETRY, msg)

    def event(self, t: float, label: str, *, text: str | None = None,
              confidence: float | None = None, value: float | None = None,
              unit: str | None = None, cmd_id: str | None = None) -> SimMessage:
        msg = Event(
            ts=self.ctx.ts(t), msg_id=self.next_msg_id(), label=label, text=text,
            confidence=confidence, value=value, unit=unit, position=self.pos_model(),
            cmd_id=cmd_id,
        )
        return self.message(t, Channel.EVENT, msg)

    def report(self, t: float, label: str, incident_id: str | None = None, *,
               text: str | None = None, confidence: float | None = None,
               value: float | None = None, unit: str | None = None) -> SimMessage:
        """An event that is also an incident sign: passed to ``on_event`` for ground truth."""
        msg = self.event(t, label, text=text, confidence=confidence, value=value, unit=unit)
        if self.on_event is not None:
            self.on_event(msg, incident_id)
        return msg

    def online(self, t: float) -> SimMessage:
        return self.status(t, DeviceState.ONLINE)

    def offline(self, t: float) -> SimMessage:
        return self.status(t, DeviceState.OFFLINE)
