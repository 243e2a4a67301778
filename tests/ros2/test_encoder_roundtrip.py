"""Simulator ros2 encoding → gateway mapper gives the rows JSON mode stores (same seed)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from devices.encoding import DeviceMessage, JsonEncoder
from devices.metrics import METRICS_BY_KIND, PLAUSIBLE
from devices.payloads import DeviceState, Event, FrameMeta, Position, Status, Telemetry
from devices.ros2.encoder import Ros2Encoder
from devices.ros2.jpeg import encode_jpeg
from devices.ros2.mapping import Ros2Mapper
from devices.ros2.results import Ros2Mapped
from devices.topics import Channel, Kind, Topic, parse_topic

START = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
Rows = dict[str, set[tuple[Any, ...]]]


def _messages(kind: Kind, seed: int, decimals: int | None) -> list[DeviceMessage]:
    """What a simulated device might send: telemetry with/without position, events, status."""
    rng = random.Random(seed)
    names = sorted(METRICS_BY_KIND[kind])
    out: list[DeviceMessage] = []
    for i in range(40):
        ts = START + timedelta(seconds=i, microseconds=rng.randrange(1_000_000))
        chosen = rng.sample(names, rng.randint(1, len(names)))
        metrics = {}
        for name in chosen:
            lo, hi = PLAUSIBLE[name]
            v = rng.uniform(lo, min(hi, lo + 500))
            metrics[name] = round(v, decimals) if decimals is not None else v
        if "heading_deg" in metrics:
            metrics["heading_deg"] = round(metrics["heading_deg"] % 360, 6)
        pos = Position(lat=22.5 + rng.random() / 10, lon=114.0 + rng.random() / 10,
                       alt_m=rng.choice([None, rng.uniform(0, 300)]))
        out.append(Telemetry(ts=ts, msg_id=f"{kind.value}-{i:05d}", metrics=metrics,
                             position=pos if rng.random() < 0.7 else None))
        if i % 7 == 0:
            out.append(Event(ts=ts, msg_id=f"ev-{i}", label=rng.choice(["spill", "obstacle",
                                                                        "low_battery"]),
                             confidence=rng.choice([None, rng.random()]),
                             text=rng.choice([None, "oil on the walkway 油"]),
                             value=rng.choice([None, rng.uniform(-5, 5)]),
                             unit=rng.choice([None, "m"]), cmd_id=rng.choice([None, "c-1"]),
                             position=rng.choice([None, pos])))
        if i % 10 == 0:
            out.append(Status(ts=ts, msg_id=f"st-{i}", state=rng.choice([DeviceState.ONLINE, DeviceState.BUSY]),
                              battery_pct=rng.choice([None, 55.5]),
                              firmware=rng.choice([None, "2.1.0"]),
                              position=rng.choice([None, pos])))
    return out


def _channel(m: DeviceMessage) -> Channel:
    return {Telemetry: Channel.TELEMETRY, Event: Channel.EVENT, Status: Channel.STATUS}[type(m)]


def _json_rows(models: list[DeviceMessage]) -> tuple[Rows, dict[tuple[Any, ...], str]]:
    """Rows as the ingest stores them from JSON payloads, plus each metric row's msg_id."""
    rows: Rows = {"telemetry": set(), "positions": set(), "events": set(), "status": set()}
    ids: dict[tuple[Any, ...], str] = {}
    for m in models:
        if isinstance(m, Telemetry):
            for k, v in m.metrics.items():
                rows["telemetry"].add((m.ts, k, v))
                ids[(m.ts, k)] = m.msg_id
            if m.position:
                p = m.position
                rows["positions"].add((m.ts, p.lat, p.lon, p.alt_m, m.msg_id))
        elif isinstance(m, Event):
            rows["events"].add((m.model_dump_json(),))
        else:
            rows["status"].add((m.model_dump_json(),))
    return rows, ids


def _ros2_rows(results: list[Ros2Mapped]) -> tuple[Rows, dict[tuple[Any, ...], str]]:
    models: list[DeviceMessage] = []
    rows: Rows = {"telemetry": set(), "positions": set(), "events": set(), "status": set()}
    ids: dict[tuple[Any, ...], str] = {}
    for r in results:
        assert r.raw is None, r.raw
        if r.telemetry:
            models.append(r.telemetry)
            ids.update({(r.telemetry.ts, k): r.telemetry.msg_id for k in r.telemetry.metrics})
        if r.position:
            p = r.position.position
            rows["positions"].add((r.position.ts, p.lat, p.lon, p.alt_m, r.position.msg_id))
        models += r.events
        models += [r.status] if r.status else []
    json_like, _ = _json_rows(models)
    rows["telemetry"], rows["events"], rows["status"] = (
        json_like["telemetry"], json_like["events"], json_like["status"])
    return rows, ids


def _through_ros2(kind: Kind, models: list[DeviceMessage], encoder: Ros2Encoder,
                  mapper: Ros2Mapper) -> list[Ros2Mapped]:
    device = f"{kind.value}-01"
    out = []
    for m in models:
        for pub in encoder.encode(Topic("futian", kind, device, _channel(m)), m):
            assert pub.qos == 1 and pub.retain == isinstance(m, Status)
            topic = parse_topic(pub.topic)
            assert topic.channel is Channel.ROS2 and topic.device_id == device
            out.append(mapper.map_mqtt(topic, pub.payload, pub.user_properties, START))
    return out


@pytest.mark.parametrize("kind", list(Kind))
def test_round_trip_equals_json_mode(kind: Kind, encoder: Ros2Encoder, mapper: Ros2Mapper) -> None:
    models = _messages(kind, seed=42, decimals=4)
    json_rows, json_ids = _json_rows(models)
    ros_rows, ros_ids = _ros2_rows(_through_ros2(kind, models, encoder, mapper))
    assert ros_rows == json_rows
    assert json_rows["telemetry"] and json_rows["events"] and json_rows["status"]
    # the same messages: a metric's msg_id is JSON's, or JSON's plus the ROS part suffix
    assert ros_ids.keys() == json_ids.keys()
    for key, msg_id in ros_ids.items():
        assert msg_id == json_ids[key] or msg_id.startswith(json_ids[key] + ":")
    # and JSON mode itself stores exactly what the JSON encoder sent
    for m in models:
        (pub,) = JsonEncoder().encode(Topic("futian", kind, "x", _channel(m)), m)
        assert type(m).model_validate_json(pub.payload, context={"kind": kind.value}) == m


def test_unrounded_battery_is_within_float32(encoder: Ros2Encoder, mapper: Ros2Mapper) -> None:
    models = _messages(Kind.ROBOT, seed=3, decimals=None)
    json_rows, _ = _json_rows(models)
    ros_rows, _ = _ros2_rows(_through_ros2(Kind.ROBOT, models, encoder, mapper))
    json_t = {(ts, k): v for ts, k, v in json_rows["telemetry"]}
    ros_t = {(ts, k): v for ts, k, v in ros_rows["telemetry"]}
    assert json_t.keys() == ros_t.keys()
    for key, v in json_t.items():
        if key[1] == "battery_pct":
            assert abs(ros_t[key] - v) < 5e-5  # float32 in BatteryState, rounded to 4 places
        else:
            assert ros_t[key] == v  # float64 everywhere else: exact


def test_frames_round_trip(encoder: Ros2Encoder, mapper: Ros2Mapper) -> None:
    jpeg = encode_jpeg(np.full((16, 16, 3), 90, np.uint8))
    meta = FrameMeta(ts=START, msg_id="fr-1", lat=22.51, lon=114.02, alt_m=61.5,
                     heading_deg=271.25, pitch_deg=-75.0, hfov_deg=66.0)
    (pub,) = encoder.encode_frame(Topic("futian", Kind.DRONE, "drone-03", Channel.FRAME), meta, jpeg)
    (json_pub,) = JsonEncoder().encode_frame(Topic("futian", Kind.DRONE, "drone-03", Channel.FRAME),
                                             meta, jpeg)
    out = mapper.map_mqtt(parse_topic(pub.topic), pub.payload, pub.user_properties, START)
    assert out.frames == [(FrameMeta.from_user_properties(json_pub.user_properties), jpeg)]


def test_jazzy_encoder_humble_mapper(mapper: Ros2Mapper) -> None:
    from devices.ros2.typestore import make_typestore

    models = _messages(Kind.DRONE, seed=9, decimals=3)
    results = _through_ros2(Kind.DRONE, models, Ros2Encoder(make_typestore("jazzy")), mapper)
    assert _ros2_rows(results)[0] == _json_rows(models)[0]
