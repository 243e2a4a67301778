"""Hostile input through ``Ingestor.handle``, the gateway's single entry for device data.

For any topic, payload and user properties, ``handle`` must not raise, must acknowledge the
message once, and must either produce rows or exactly one dead letter (or nothing, for a
recognised duplicate, a frame or the platform's own outbound traffic) — never an
"internal error" (the catch-all that hides bugs), and nothing PostgreSQL could not store.
"""

from __future__ import annotations

import copy
import functools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import event, example, given
from hypothesis import strategies as st

from devices.metrics import METRICS_BY_KIND
from devices.payloads import EVENT_LABELS, MAX_JSON_BYTES
from devices.topics import Kind
from gateway.ingest.bus import AckToken, Inbound
from gateway.ingest.pipeline import IngestLimits, Ingestor
from gateway.ingest.ros2 import Ros2IngestRouter
from gateway.store.batch import Batch
from tests.api.conftest import make_settings
from tests.hardening.fuzzing import FUZZ, dumps, json_values, mutate_bytes, storable, wire_text
from tests.hardening.ros2_seeds import seeds

NOW = datetime.now(UTC)
HOSTILE_NAMES = ["futian'; DROP TABLE telemetry;--", "' OR '1'='1", "a" * 65, "x" * 5000, "福田", "",
                 "+", "#", "..", "%00", "Futian", "-lead", "a b", "${jndi:ldap://x}"]
good_names = st.sampled_from(["futian", "luohu", "aq-0001", "robot-07", "drone-03"]) \
    | st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True)
names = good_names | good_names | good_names | good_names | st.sampled_from(HOSTILE_NAMES)
good_kinds = st.sampled_from([k.value for k in Kind])
good_channels = st.sampled_from(["telemetry", "status", "event", "frame", "ros2/fix"])
bad_parts = st.sampled_from(["tank", "DRONE", "", "cmd", "ros2", "telemetry/x", "unknown", "+", "#"])
device_topic = st.builds(lambda d, k, i, c: f"city/{d}/{k}/{i}/{c}", names, good_kinds, names, good_channels)
hostile_topic = st.builds(lambda d, k, i, c: f"city/{d}/{k}/{i}/{c}", names, good_kinds | bad_parts, names,
                          good_channels | bad_parts)
topics = device_topic | device_topic | device_topic | hostile_topic \
    | st.builds(lambda d: f"city/{d}/tickets", names) | st.text(wire_text, max_size=600)
msg_ids = st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True) | st.text(max_size=80)
timestamps = st.builds(lambda s: (NOW + timedelta(seconds=s)).isoformat(), st.integers(-400 * 86400, 2 * 86400)) \
    | st.sampled_from(["2026-11-28T08:15:00", "yesterday", "", "2026-13-45T99:99:99Z"])


@functools.cache
def ros2_router() -> Ros2IngestRouter:
    return Ros2IngestRouter(make_settings())


def valid(kind: str, channel: str, msg_id: str, draw: st.DrawFn) -> dict[str, Any]:
    base: dict[str, Any] = {"ts": draw(timestamps), "msg_id": msg_id}
    if channel == "telemetry":
        names_ = sorted(METRICS_BY_KIND[Kind(kind)]) if kind in Kind._value2member_map_ else ["pm25"]
        base["metrics"] = draw(st.dictionaries(st.sampled_from(names_), st.floats(-1e6, 1e6), min_size=1, max_size=5))
        if draw(st.booleans()):
            base["position"] = {"lat": draw(st.floats(-90, 90)), "lon": draw(st.floats(-180, 180))}
    elif channel == "event":
        base.update(label=draw(st.sampled_from(sorted(EVENT_LABELS))), text=draw(st.text(max_size=60)),
                    confidence=draw(st.floats(0, 1)))
    else:
        base.update(state=draw(st.sampled_from(["online", "offline", "busy", "charging", "error", "flying"])),
                    firmware=draw(st.text(max_size=20)), battery_pct=draw(st.floats(0, 100)))
    return base


def mutate(doc: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*sorted(doc), "metrics", "position", "extra", "text", "unit", "firmware"]))
        op = draw(st.sampled_from(["drop", "replace", "nest"]))
        if op == "drop":
            doc.pop(key, None)
        elif op == "replace":
            doc[key] = draw(json_values)
        elif isinstance(doc.get(key), dict) and doc[key]:
            inner = draw(st.sampled_from(sorted(doc[key])))
            doc[key][inner] = draw(json_values)
    return doc


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, bytes, list[tuple[str, str]]]:
    topic = draw(topics)
    parts = topic.split("/")
    kind, channel = (parts[2], parts[4]) if len(parts) >= 5 else ("sensor", "telemetry")
    style = draw(st.sampled_from(["valid", "valid", "mutated", "mutated", "json", "bytes", "oversized", "ros2"]))
    if style == "ros2":  # a (mutated) CDR message on the device's ros2 topic
        ros_type, ros_topic, data = draw(st.sampled_from(seeds()))
        topic = f"city/futian/{draw(good_kinds)}/{draw(good_names)}/ros2{ros_topic}"
        payload = mutate_bytes(data, draw) if draw(st.booleans()) else data
        return topic, payload, [("ros_type", ros_type), ("ts", NOW.isoformat())]
    if style in ("valid", "mutated"):
        doc = valid(kind, channel, draw(msg_ids), draw)
        payload = dumps(mutate(doc, draw) if style == "mutated" else doc)
    elif style == "json":
        payload = dumps(draw(json_values))
    elif style == "bytes":
        payload = draw(st.binary(max_size=300))
    else:
        payload = b'{"ts":"' + NOW.isoformat().encode() + b'","msg_id":"big","metrics":{"pm25":1},"pad":"' \
            + b"x" * MAX_JSON_BYTES + b'"}'
    props = draw(st.lists(st.tuples(st.sampled_from(["ts", "msg_id", "lat", "lon", "alt_m", "heading_deg",
                                                       "pitch_deg", "hfov_deg", "ros_type", "x"]),
                                    st.text(wire_text, max_size=30)), max_size=9))
    return topic, payload, props


def handle(ing: Ingestor, topic: str, payload: bytes, props: list[tuple[str, str]]) -> Batch:
    before = (ing.counters.duplicates, ing.counters.outbound_ignored, ing.counters.frames)
    batch = Batch()
    ing.handle(Inbound(topic, payload, props, NOW, AckToken(1, 1, 1)), batch)
    after = (ing.counters.duplicates, ing.counters.outbound_ignored, ing.counters.frames)
    assert len(batch.acks) == 1 and batch.messages == 1
    rows = batch.rows - len(batch.dead_letters)
    if batch.dead_letters:
        assert len(batch.dead_letters) == 1 and rows == 0, (batch.dead_letters, rows)
        reason = batch.dead_letters[0][2]
        event(f"dead letter: {reason.split(':', 1)[0][:30]}")
        assert not reason.startswith("internal error"), (topic[:100], payload[:200], reason)
    else:
        assert rows > 0 or after != before, (topic[:100], payload[:200])
        event("rows" if rows else "no rows (duplicate, frame or outbound)")
    for table in (batch.telemetry, batch.positions, batch.events, batch.statuses, batch.dead_letters,
                  batch.ros2_raw):
        for row in table:
            bad = [v for v in row if not storable(v)]
            assert not bad, f"PostgreSQL cannot store {bad!r} (from {topic[:80]!r}: {payload[:120]!r})"
    return batch


@FUZZ
@given(messages())
@example(("city/futian/robot/robot-1/event", b'{"ts":"%s","msg_id":"e1","label":"spill","text":"oil\\u0000"}'
          % NOW.isoformat().encode(), []))
@example(("city/futian/sensor/aq-1/telemetry", b'{"ts":"%s","msg_id":"t1","metrics":{"pm\\u000025":1}}'
          % NOW.isoformat().encode(), []))
def test_handle_never_fails_and_yields_rows_or_one_dead_letter(msg: tuple[str, bytes, list[tuple[str, str]]]) -> None:
    handle(Ingestor(IngestLimits(), ros2=ros2_router()), *msg)


@FUZZ
@given(st.lists(messages(), min_size=2, max_size=8))
def test_one_ingestor_across_many_messages(batch: list[tuple[str, bytes, list[tuple[str, str]]]]) -> None:
    # Shared state (dedupe, device registry, topic cache) must not turn hostile input into errors.
    ing = Ingestor(IngestLimits(), ros2=ros2_router())
    for msg in batch + batch:  # the second pass is all redeliveries
        handle(ing, *msg)
