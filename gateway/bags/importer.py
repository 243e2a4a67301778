"""``urbanops bags import``: replay a recorded rosbag2 mission into the platform as if live.

Through MQTT, not straight into the store. Why: a replayed mission must be exactly what a
live robot would have produced, so it takes the live path — the ``.../ros2/{ros_topic}``
topics with user properties ``ros_type``/``msg_id``/``ts``, the same ingest validation,
mapping, dead-lettering and (device_id, msg_id) dedupe, the same device registry and
listeners (triage, live feed). A second code path into the store would drift from it.

- Pacing: ``rate`` 1.0 replays in recorded time, 2.0 twice as fast, ``None`` ("max") as
  fast as the broker acknowledges.
- Time: ``shift`` (default) moves the recording so its first message is stamped "now",
  keeping the spacing — the ingest refuses data older than its age limit, and the replay is
  live data. ``original`` keeps the recorded timestamps (re-importing then deduplicates).
- ``msg_id`` = ``bag:`` + hash(device, ROS topic, per-topic index, ts, bytes): stable, so a
  QoS 1 redelivery — or a re-import with ``original`` time — stores nothing twice.
- Bags are read with ``devices.ros2.bags`` (see there why not rosbags' directory reader).
  Every message is decoded here too, with the distro's typestore plus the definitions the
  bag embeds for types the distro lacks, only to report per topic what the gateway will be
  able to read; bytes are published unchanged either way.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from devices.encoding import Publish
from devices.ros2.bags import BagFile, BagMessage, bag_typestore, decode_or_none
from devices.ros2.convert import from_ns, to_ns
from devices.ros2.envelope import PROP_MSG_ID, PROP_ROS_TYPE, PROP_TS
from devices.topics import Channel, Kind, Topic, TopicError

TIME_MODES = ("shift", "original")
WINDOW = 1000  # unacknowledged publishes before waiting for the oldest


class BagImportError(RuntimeError):
    """The import could not run (bad options, broker unreachable, publishes not acked)."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    device_id: str
    district: str
    kind: Kind = Kind.DRONE
    rate: float | None = 1.0  # None = as fast as possible
    distro: str = "humble"
    time_mode: str = "shift"


@dataclass(frozen=True, slots=True)
class MqttTarget:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    client_id: str = "urbanops-bags-import"


@dataclass(slots=True)
class TopicReport:
    ros_topic: str
    ros_type: str
    expected: int | None  # per metadata.yaml
    type_source: str  # distro | embedded | unknown | invalid: ...
    mqtt_topic: str | None
    skipped: str | None = None  # why the topic cannot be published
    read: int = 0
    published: int = 0
    decodable: int = 0

    @property
    def ok(self) -> bool:
        return self.expected is None or self.published == self.expected


@dataclass
class ImportReport:
    path: Path
    storage_id: str
    topics: list[TopicReport] = field(default_factory=list)
    elapsed_s: float = 0.0
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        """Messages published per ROS topic."""
        out: dict[str, int] = {}
        for t in self.topics:
            out[t.ros_topic] = out.get(t.ros_topic, 0) + t.published
        return out

    @property
    def published(self) -> int:
        return sum(t.published for t in self.topics)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.topics)


def _msg_id(device_id: str, ros_topic: str, index: int, ts_ns: int, data: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{device_id}\x00{ros_topic}\x00{index}\x00{ts_ns}\x00".encode())
    h.update(data)
    return "bag:" + h.hexdigest()


def _topic_reports(bag: BagFile, opts: ImportOptions, sources: dict[str, str]) -> dict[
        tuple[str, str], TopicReport]:
    reports = {}
    for key, t in bag.topics.items():
        try:
            mqtt_topic: str | None = Topic(opts.district, opts.kind, opts.device_id,
                                           Channel.ROS2, t.name).render()
            skipped = None
        except TopicError as err:
            mqtt_topic, skipped = None, str(err)
        reports[key] = TopicReport(t.name, t.ros_type, t.expected, sources[t.ros_type],
                                   mqtt_topic, skipped)
    return reports


def iter_publishes(bag: BagFile, opts: ImportOptions, reports: dict[tuple[str, str], TopicReport],
                   now: datetime, decode: Callable[[str, bytes], bool]) -> Iterator[
                       tuple[BagMessage, Publish | None]]:
    """Each bag message with the MQTT publish it becomes (``None``: its topic is skipped).

    The dry-run path; ``import_bag`` publishes what this yields.
    """
    if opts.time_mode not in TIME_MODES:
        raise BagImportError(f"time mode {opts.time_mode!r}: one of {', '.join(TIME_MODES)}")
    shift: int | None = None
    index: dict[tuple[str, str], int] = {}
    for m in bag.messages():
        key = (m.topic, m.ros_type)
        rep = reports[key]
        rep.read += 1
        if decode(m.ros_type, m.data):
            rep.decodable += 1
        if rep.mqtt_topic is None:
            yield m, None
            continue
        if shift is None:
            shift = to_ns(now) - m.log_time_ns if opts.time_mode == "shift" else 0
        ts_ns = m.log_time_ns + shift
        i = index[key] = index.get(key, -1) + 1
        props = [(PROP_ROS_TYPE, m.ros_type),
                 (PROP_MSG_ID, _msg_id(opts.device_id, m.topic, i, ts_ns, m.data)),
                 (PROP_TS, from_ns(ts_ns).isoformat())]
        yield m, Publish(rep.mqtt_topic, m.data, qos=1, user_properties=props)


class _Publisher:
    """A QoS 1 MQTT v5 publisher that keeps at most ``WINDOW`` publishes unacknowledged."""

    def __init__(self, target: MqttTarget) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=target.client_id,
                                  protocol=mqtt.MQTTv5)
        if target.username:
            self.client.username_pw_set(target.username, target.password)
        if target.tls:
            self.client.tls_set()
        self.client.max_inflight_messages_set(200)
        self._connected = threading.Event()
        self._refused: str | None = None
        self.client.on_connect = self._on_connect
        self.pending: deque[mqtt.MQTTMessageInfo] = deque()
        try:
            self.client.connect(target.host, target.port, keepalive=30)
        except OSError as err:
            raise BagImportError(f"MQTT broker {target.host}:{target.port}: {err}") from err
        self.client.loop_start()
        if not self._connected.wait(10) or self._refused:
            self.close()
            raise BagImportError(f"MQTT broker refused the connection: {self._refused or 'timeout'}")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        self._connected.set()

    def publish(self, p: Publish) -> None:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = p.user_properties
        self.pending.append(self.client.publish(p.topic, p.payload, qos=p.qos, retain=p.retain,
                                                properties=props))
        while len(self.pending) > WINDOW:
            self._wait_oldest()

    def _wait_oldest(self, timeout_s: float = 30.0) -> None:
        info = self.pending.popleft()
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise BagImportError(f"publish not acknowledged within {timeout_s:.0f}s (rc={info.rc})")

    def flush(self) -> None:
        while self.pending:
            self._wait_oldest()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def import_bag(path: Path, opts: ImportOptions, target: MqttTarget | None, *,
               progress: bool = False, now: datetime | None = None,
               sink: Callable[[Publish], None] | None = None) -> ImportReport:
    """Replay ``path`` to ``target``; ``target=None`` is a dry run (publishes go to
    ``sink`` if given). Returns per-topic counts; the caller checks ``report.ok``."""
    if opts.rate is not None and opts.rate <= 0:
        raise BagImportError("rate must be > 0 (or max)")
    started = time.monotonic()
    with BagFile(path) as bag:
        store, sources = bag_typestore(bag, opts.distro)
        reports = _topic_reports(bag, opts, sources)
        report = ImportReport(path, bag.storage_id, list(reports.values()), dry_run=target is None)
        publisher = _Publisher(target) if target is not None else None
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())
        try:
            with Progress(*columns, disable=not progress) as bar:
                task = bar.add_task(f"import {path.name}", total=bag.message_count)
                first: int | None = None
                for m, pub in iter_publishes(
                        bag, opts, reports, now or datetime.now(UTC),
                        lambda t, d: decode_or_none(store, t, d) is not None):
                    bar.advance(task)
                    if pub is None:
                        continue
                    first = m.log_time_ns if first is None else first
                    if opts.rate is not None and publisher is not None:
                        due = started + (m.log_time_ns - first) / 1e9 / opts.rate
                        if (delay := due - time.monotonic()) > 0:
                            time.sleep(delay)
                    if publisher is not None:
                        publisher.publish(pub)
                    elif sink is not None:
                        sink(pub)
                    reports[(m.topic, m.ros_type)].published += 1
                if publisher is not None:
                    publisher.flush()
        finally:
            if publisher is not None:
                publisher.close()
    report.elapsed_s = time.monotonic() - started
    return report
