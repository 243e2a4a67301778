"""Everything the fleet sends is valid under the contract (devices.topics, devices.payloads),
and an ordinary day crosses no incident threshold."""

from __future__ import annotations

from datetime import timedelta

import pytest

from citypack.cached import district as get_district
from devices.encoding import JsonEncoder
from devices.metrics import METRICS_BY_KIND, PLAUSIBLE
from devices.payloads import Event, Status, Telemetry
from devices.ros2.encoder import Ros2Encoder
from devices.ros2.mapping import Ros2Mapper
from devices.topics import Channel, Kind, parse_topic
from simulators.sim import FleetSim, encode_messages, generate_messages
from triage.thresholds import level_for

from .fleet_util import START, small

MODELS: dict[Channel, type[Telemetry | Status | Event]] = {
    Channel.TELEMETRY: Telemetry, Channel.STATUS: Status, Channel.EVENT: Event}


def test_every_publish_validates_against_the_contract() -> None:
    cfg = small(sensors=60, robots=4, drones=3, rate=1.0, duration_s=40.0,
                districts=("futian", "nanshan", "luohu"), scenario="city_mix")
    msgs = generate_messages(cfg, START)
    pubs = encode_messages(msgs, JsonEncoder())
    assert len(pubs) == len(msgs)
    seen_channels = set()
    for m, p in zip(msgs, pubs, strict=True):
        topic = parse_topic(p.topic)
        assert (topic.kind, topic.device_id, topic.channel) == (m.kind, m.device_id, m.channel)
        assert p.qos == 1 and p.retain == (topic.channel is Channel.STATUS)
        model = MODELS[topic.channel].model_validate_json(
            p.payload, context={"kind": topic.kind.value})
        assert model == m.message
        seen_channels.add(topic.channel)
        district = get_district(topic.district)
        pos = getattr(model, "position", None)
        if pos is not None:
            assert district.contains(pos.lat, pos.lon), (m.device_id, pos)
        if isinstance(model, Telemetry):
            assert set(model.metrics) <= METRICS_BY_KIND[topic.kind]
            for name, value in model.metrics.items():
                low, high = PLAUSIBLE[name]
                assert low <= value <= high, (name, value)
            assert (model.position is not None) == (topic.kind is not Kind.SENSOR)
    assert seen_channels == {Channel.TELEMETRY, Channel.STATUS, Channel.EVENT}
    assert {m.topic.district for m in msgs} == {"futian", "nanshan", "luohu"}


@pytest.mark.parametrize("local_hour", [3, 8.5, 13, 18.5])
def test_an_ordinary_day_crosses_no_threshold(local_hour: float) -> None:
    """quiet_control over 3 h (drone and robot battery cycles included): no reading reaches
    a triage threshold and no device reports an event."""
    start = START.replace(hour=0, minute=0) + timedelta(hours=local_hour - 8)
    cfg = small(sensors=70, robots=3, drones=2, rate=1 / 60, duration_s=3 * 3600.0,
                scenario="quiet_control")
    sim = FleetSim(cfg, start)
    telemetry = 0
    for m in sim.messages():
        assert m.channel is not Channel.EVENT, m
        if isinstance(m.message, Telemetry):
            telemetry += 1
            for name, value in m.message.metrics.items():
                assert level_for(name, value) is None, (m.device_id, name, value, m.t)
    assert telemetry == 75 * 180
    assert sim.truth() == []


def test_fleet_stream_round_trips_through_ros2() -> None:
    """The same fleet in ROS 2 encoding maps back to the telemetry JSON mode stores."""
    msgs = generate_messages(small(rate=1.0, duration_s=6.0), START)
    encoder, mapper = Ros2Encoder(), Ros2Mapper()
    json_rows = {(m.device_id, m.message.ts, k, v) for m in msgs
                 if isinstance(m.message, Telemetry) for k, v in m.message.metrics.items()}
    ros_rows = set()
    for m in msgs:
        for p in encoder.encode(m.topic, m.message):
            topic = parse_topic(p.topic)
            assert topic.channel is Channel.ROS2
            mapped = mapper.map_mqtt(topic, p.payload, p.user_properties, START)
            if mapped.telemetry is not None:
                t = mapped.telemetry
                ros_rows |= {(topic.device_id, t.ts, k, v) for k, v in t.metrics.items()}
    assert ros_rows == json_rows
    assert len(json_rows) > 500
