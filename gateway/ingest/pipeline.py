"""Validate and route one inbound MQTT message into the current batch.

Everything a device sends is checked here, at the edge: topic, size, JSON shape, metric
names, timestamps, device identity. Anything refused becomes a dead letter with its reason;
nothing raised here ever reaches the receive loop.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError

from devices.metrics import METRICS_BY_KIND, PLAUSIBLE
from devices.payloads import MAX_FRAME_BYTES, MAX_JSON_BYTES, Event, FrameMeta, Position, Status, Telemetry
from devices.topics import Channel, Topic, TopicError, parse_topic
from gateway.ingest.bus import Inbound
from gateway.ingest.fast_telemetry import FastPosition, TelemetryDecoder
from gateway.ingest.frames import FrameError, check_jpeg
from gateway.store.batch import Batch, DeviceSeen

log = logging.getLogger(__name__)
EXCERPT_BYTES = 512
ANY_VALUE = (float("-inf"), float("inf"))


class Rejected(ValueError):
    """A message refused at the edge; its text is the dead-letter reason."""

    def __init__(self, reason: str, device_id: str | None = None) -> None:
        super().__init__(reason)
        self.device_id = device_id


class FrameSink(Protocol):
    def submit(self, topic: Topic, meta: FrameMeta, jpeg: bytes) -> bool:
        """Take a frame for vision; return False when it was dropped (queue full)."""
        ...


class Ros2Router(Protocol):
    def route(self, topic: Topic, msg: Inbound, batch: Batch, ingestor: Ingestor) -> None: ...


@dataclass
class IngestLimits:
    max_future_s: float = 86_400.0
    max_age_days: float = 365.0
    max_clock_skew_s: float = 300.0
    dedupe_cache_size: int = 200_000
    # Telemetry through gateway.ingest.fast_telemetry first (the model decides whatever it leaves).
    fast_telemetry: bool = True


@dataclass
class IngestCounters:
    messages: int = 0
    stored: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    clock_skewed: int = 0
    implausible: int = 0
    frames: int = 0
    frames_dropped: int = 0
    outbound_ignored: int = 0

    def count(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1


def is_outbound(topic: str) -> bool:
    parts = topic.split("/")
    return (len(parts) == 3 and parts[2] == "tickets") or (len(parts) == 5 and parts[4] == "cmd")


def excerpt(payload: bytes) -> str:
    # PostgreSQL text cannot hold NUL; the excerpt is for people, so replacement is fine.
    return payload[:EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")


def first_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:3]:
        loc = ".".join(str(p) for p in e["loc"]) or "payload"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)[:300]


class Ingestor:
    """Routes messages into a ``Batch``; keeps device identity and dedupe state."""

    def __init__(
        self,
        limits: IngestLimits,
        frame_sink: FrameSink | None = None,
        ros2: Ros2Router | None = None,
        known_devices: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.limits = limits
        self.frame_sink = frame_sink
        self.ros2 = ros2
        self.counters = IngestCounters()
        self.devices: dict[str, tuple[str, str]] = dict(known_devices or {})
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._topics: dict[str, Topic] = {}
        # Topics that passed every topic-level check (not outbound, identity as registered):
        # a device's identity never changes once set, so they pass again. With each, the
        # metric names its kind may send.
        self._trusted: dict[str, tuple[Topic, frozenset[str]]] = {}
        self.device_updates: dict[str, DeviceSeen] = {}
        self._fast = TelemetryDecoder() if limits.fast_telemetry else None

    # -- entry point ----------------------------------------------------------------
    def handle(self, msg: Inbound, batch: Batch) -> None:
        self.counters.messages += 1
        batch.messages += 1
        batch.acks.append(msg.ack)
        try:
            self._route(msg, batch)
        except Rejected as rej:
            self.dead_letter(batch, msg, str(rej), rej.device_id)
        except Exception as err:  # a bug must cost one message, not the gateway
            log.exception("unexpected ingest error on %s", msg.topic[:120])
            self.dead_letter(batch, msg, f"internal error: {type(err).__name__}", None)

    def dead_letter(self, batch: Batch, msg: Inbound, reason: str, device_id: str | None) -> None:
        kind = reason.split(":", 1)[0][:60]
        self.counters.count(self.counters.dead_letters, kind)
        batch.dead_letters.append(
            (msg.received_at, msg.topic[:512], reason[:500].replace("\x00", "\ufffd"), len(msg.payload),
             excerpt(msg.payload), device_id)
        )

    # -- routing --------------------------------------------------------------------
    def topic(self, name: str) -> Topic:
        cached = self._topics.get(name)
        if cached is not None:
            return cached
        try:
            topic = parse_topic(name)
        except TopicError as err:
            raise Rejected(f"bad topic: {err}") from err
        if len(self._topics) < 100_000:
            self._topics[name] = topic
        return topic

    def _route(self, msg: Inbound, batch: Batch) -> None:
        trusted = self._trusted.get(msg.topic)
        if trusted is not None:
            topic, allowed = trusted
        else:
            if is_outbound(msg.topic):
                # We subscribe to all of city/# so unknown topics can be dead-lettered; the
                # platform's own commands and tickets come back to us and are not input.
                self.counters.outbound_ignored += 1
                return
            topic = self.topic(msg.topic)
            self._check_identity(topic)
            allowed = METRICS_BY_KIND[topic.kind]
            if len(self._trusted) < 100_000:
                self._trusted[msg.topic] = (topic, allowed)
        channel = topic.channel
        if channel is Channel.TELEMETRY:
            self._telemetry(topic, allowed, msg, batch)
        elif channel is Channel.EVENT:
            self._event(topic, msg, batch)
        elif channel is Channel.STATUS:
            self._status(topic, msg, batch)
        elif channel is Channel.FRAME:
            self._frame(topic, msg)
        elif channel is Channel.ROS2:
            if self.ros2 is None:
                raise Rejected("ros2: no ROS 2 decoder configured", topic.device_id)
            self.ros2.route(topic, msg, batch, self)
        else:
            raise Rejected(f"bad topic: {channel.value} is not an inbound channel", topic.device_id)

    def _check_identity(self, topic: Topic) -> None:
        known = self.devices.get(topic.device_id)
        if known is None:
            self.devices[topic.device_id] = (topic.district, topic.kind.value)
        elif known != (topic.district, topic.kind.value):
            raise Rejected(
                f"device identity: {topic.device_id} is registered as {known[1]} in {known[0]}",
                topic.device_id,
            )

    def _parse(self, model: type[Telemetry] | type[Event] | type[Status], topic: Topic,
               msg: Inbound) -> Telemetry | Event | Status:
        if len(msg.payload) > MAX_JSON_BYTES:
            raise Rejected(f"oversized: {len(msg.payload)} bytes > {MAX_JSON_BYTES}", topic.device_id)
        try:
            return model.model_validate_json(msg.payload, context={"kind": topic.kind.value})
        except ValidationError as err:
            kind = "bad json" if any(e["type"] == "json_invalid" for e in err.errors()) else "invalid"
            raise Rejected(f"{kind}: {first_error(err)}", topic.device_id) from err

    def is_duplicate(self, device_id: str, msg_id: str) -> bool:
        key = (device_id, msg_id)
        if key in self._seen:
            self.counters.duplicates += 1
            return True
        self._seen[key] = None
        if len(self._seen) > self.limits.dedupe_cache_size:
            self._seen.popitem(last=False)
        return False

    def check_time(self, topic: Topic, ts: datetime, received_at: datetime) -> float:
        skew = (ts - received_at).total_seconds()
        if skew > self.limits.max_future_s:
            raise Rejected(f"timestamp: {ts.isoformat()} is {skew:.0f}s in the future", topic.device_id)
        if -skew > self.limits.max_age_days * 86_400:
            raise Rejected(f"timestamp: {ts.isoformat()} is too old", topic.device_id)
        return skew

    def seen(self, topic: Topic, ts: datetime, received_at: datetime, skew: float) -> DeviceSeen:
        dev = self.device_updates.get(topic.device_id)
        if dev is None:
            dev = DeviceSeen(topic.district, topic.kind.value, received_at, received_at)
            self.device_updates[topic.device_id] = dev
        dev.last_seen = max(dev.last_seen, received_at)
        dev.messages += 1
        # The registry shows each device's current clock offset; beyond the limit its data
        # is kept (with both device and receive time) but operators see the flag.
        dev.clock_skew_s = skew
        if abs(skew) > self.limits.max_clock_skew_s:
            self.counters.clock_skewed += 1
        return dev

    def add_telemetry(self, topic: Topic, t: Telemetry, received_at: datetime, batch: Batch) -> None:
        self.add_metrics(topic, t.ts, t.msg_id, t.metrics, t.position, received_at, batch)

    def add_metrics(self, topic: Topic, ts: datetime, msg_id: str, metrics: dict[str, float],
                    position: Position | FastPosition | None, received_at: datetime, batch: Batch) -> None:
        """One validated telemetry message (from the model or the fast decoder) into rows."""
        skew = self.check_time(topic, ts, received_at)
        device_id = topic.device_id
        if self.is_duplicate(device_id, msg_id):
            return
        dev = self.seen(topic, ts, received_at, skew)
        rows = batch.telemetry
        for metric, value in metrics.items():
            rows.append((ts, device_id, metric, value, msg_id, received_at))
            low, high = PLAUSIBLE.get(metric, ANY_VALUE)
            if not low <= value <= high:
                self.counters.implausible += 1
                self.add_event(topic, Event(ts=ts, msg_id=f"{msg_id}:implausible:{metric}"[:64],
                                            label="implausible_value", value=value, unit=metric),
                               received_at, batch, skew_checked=True)
        if "battery_pct" in metrics:
            dev.battery_pct = metrics["battery_pct"]
        if position is not None:
            self._position(dev, device_id, ts, msg_id, position, batch)

    def add_position(self, topic: Topic, ts: datetime, msg_id: str, position: Position,
                     received_at: datetime, batch: Batch) -> None:
        """A position fix that arrived without metrics (e.g. a ROS 2 NavSatFix)."""
        skew = self.check_time(topic, ts, received_at)
        if self.is_duplicate(topic.device_id, msg_id):
            return
        dev = self.seen(topic, ts, received_at, skew)
        self._position(dev, topic.device_id, ts, msg_id, position, batch)

    @staticmethod
    def _position(dev: DeviceSeen, device_id: str, ts: datetime, msg_id: str, p: Position | FastPosition,
                  batch: Batch) -> None:
        batch.positions.append((ts, device_id, p.lat, p.lon, p.alt_m, msg_id))
        if dev.position_ts is None or ts >= dev.position_ts:
            dev.lat, dev.lon, dev.alt_m, dev.position_ts = p.lat, p.lon, p.alt_m, ts

    def add_raw_ros2(self, topic: Topic, ts: datetime, msg_id: str, ros_topic: str, ros_type: str,
                     data: bytes, received_at: datetime, batch: Batch) -> None:
        """A ROS 2 message of a type the platform does not map: kept raw with its type name."""
        skew = self.check_time(topic, ts, received_at)
        if self.is_duplicate(topic.device_id, msg_id):
            return
        self.seen(topic, ts, received_at, skew)
        batch.ros2_raw.append((ts, received_at, topic.device_id, ros_topic, ros_type, msg_id, data))

    def add_event(self, topic: Topic, e: Event, received_at: datetime, batch: Batch,
                  skew_checked: bool = False) -> None:
        if not skew_checked:
            skew = self.check_time(topic, e.ts, received_at)
            if self.is_duplicate(topic.device_id, e.msg_id):
                return
            self.seen(topic, e.ts, received_at, skew)
        pos = e.position
        batch.events.append(
            (e.ts, received_at, topic.device_id, topic.district, topic.kind.value, e.msg_id,
             e.label, e.confidence, e.text, e.value, e.unit,
             pos.lat if pos else None, pos.lon if pos else None, e.cmd_id)
        )
        batch.event_models.append((topic, e))

    def add_status(self, topic: Topic, s: Status, received_at: datetime, batch: Batch) -> None:
        skew = self.check_time(topic, s.ts, received_at)
        if self.is_duplicate(topic.device_id, s.msg_id):
            return
        dev = self.seen(topic, s.ts, received_at, skew)
        batch.statuses.append(
            (s.ts, received_at, topic.device_id, s.state.value, s.battery_pct, s.msg_id)
        )
        if dev.state_ts is None or s.ts >= dev.state_ts:
            dev.state, dev.state_ts = s.state.value, s.ts
            if s.battery_pct is not None:
                dev.battery_pct = s.battery_pct
            if s.firmware:
                dev.firmware = s.firmware
        if s.position is not None:  # fixed sensors announce where they stand only in their status
            self._position(dev, topic.device_id, s.ts, s.msg_id, s.position, batch)

    def _telemetry(self, topic: Topic, allowed: frozenset[str], msg: Inbound, batch: Batch) -> None:
        if self._fast is not None:
            fast = self._fast.decode(msg.payload, allowed)
            if fast is not None:
                self.add_metrics(topic, fast.ts, fast.msg_id, fast.metrics, fast.position, msg.received_at, batch)
                return
        t = self._parse(Telemetry, topic, msg)
        assert isinstance(t, Telemetry)
        self.add_telemetry(topic, t, msg.received_at, batch)

    def _event(self, topic: Topic, msg: Inbound, batch: Batch) -> None:
        e = self._parse(Event, topic, msg)
        assert isinstance(e, Event)
        self.add_event(topic, e, msg.received_at, batch)

    def _status(self, topic: Topic, msg: Inbound, batch: Batch) -> None:
        s = self._parse(Status, topic, msg)
        assert isinstance(s, Status)
        self.add_status(topic, s, msg.received_at, batch)

    def _frame(self, topic: Topic, msg: Inbound) -> None:
        try:
            meta = FrameMeta.from_user_properties(msg.user_properties)
        except ValidationError as err:
            raise Rejected(f"frame metadata: {first_error(err)}", topic.device_id) from err
        self.add_frame(topic, meta, msg.payload, msg.received_at)

    def add_frame(self, topic: Topic, meta: FrameMeta, jpeg: bytes, received_at: datetime) -> None:
        """Check a frame and hand it to vision; frames themselves are never stored."""
        try:
            check_jpeg(jpeg, MAX_FRAME_BYTES)
        except FrameError as err:
            raise Rejected(f"bad frame: {err}", topic.device_id) from err
        self.check_time(topic, meta.ts, received_at)
        if self.is_duplicate(topic.device_id, meta.msg_id):
            return
        self.counters.frames += 1
        if self.frame_sink is None or not self.frame_sink.submit(topic, meta, jpeg):
            self.counters.frames_dropped += 1

    def take_device_updates(self) -> dict[str, DeviceSeen]:
        updates, self.device_updates = self.device_updates, {}
        return updates

