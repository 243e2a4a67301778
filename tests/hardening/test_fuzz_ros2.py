"""The ROS 2 decoder and mapper on random and mutated CDR: it maps, keeps the message raw,
or raises ``Ros2DecodeError`` — never any other exception."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from hypothesis import event, given
from hypothesis import strategies as st

from devices.ros2 import Ros2DecodeError, Ros2Mapper, make_typestore
from devices.ros2.mapping import HANDLERS
from devices.topics import Channel, Kind, Topic
from tests.hardening.fuzzing import FUZZ, mutate_bytes, wire_text
from tests.hardening.ros2_seeds import TS, seeds

KNOWN_TYPES = sorted({*HANDLERS, "std_msgs/msg/String", "geometry_msgs/msg/Twist"})
props_values = st.text(wire_text, max_size=40)


@functools.cache
def mapper() -> Ros2Mapper:
    m = Ros2Mapper(make_typestore("humble"))
    fix = seeds()[0]
    for kind in Kind:  # a known pose, so image messages go all the way to frames
        m.map_mqtt(Topic("futian", kind, "dev-1", Channel.ROS2, fix[1]), fix[2], [("ros_type", fix[0])], TS)
    return m


def run(kind: Kind, ros_topic: str, data: bytes, props: list[tuple[str, str]]) -> str:
    """Map one message; return what became of it (any other exception fails the test)."""
    topic = Topic("futian", kind, "dev-1", Channel.ROS2, ros_topic)
    try:
        out = mapper().map_mqtt(topic, data, props, datetime.now(UTC))
    except Ros2DecodeError as err:
        assert err.reason
        return "Ros2DecodeError"
    assert out.msg_id and out.ts.tzinfo is not None
    return "kept raw" if out.raw is not None else "mapped"


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Kind, str, bytes, list[tuple[str, str]]]:
    ros_type, ros_topic, data = draw(st.sampled_from(seeds()))
    props = [("ros_type", ros_type)]
    if draw(st.booleans()):
        props += draw(st.lists(st.tuples(st.sampled_from(["ts", "msg_id", "lat", "lon", "heading_deg",
                                                            "hfov_deg", "pitch_deg"]), props_values), max_size=4))
    return draw(st.sampled_from(list(Kind))), ros_topic, mutate_bytes(data, draw), props


@FUZZ
@given(mutated())
def test_mutated_cdr_of_every_mapped_type(case: tuple[Kind, str, bytes, list[tuple[str, str]]]) -> None:
    event(run(*case))


@FUZZ
@given(st.sampled_from(list(Kind)), st.sampled_from(KNOWN_TYPES) | props_values, st.binary(max_size=400))
def test_random_bytes_as_any_type(kind: Kind, ros_type: str, data: bytes) -> None:
    event(run(kind, "/fuzz", data, [("ros_type", ros_type)]))


def test_seeds_map_cleanly() -> None:
    # The mutation seeds themselves are valid: the fuzzing starts from real messages.
    outcomes = {ros_type: run(Kind.DRONE, ros_topic, data, [("ros_type", ros_type)])
                for ros_type, ros_topic, data in seeds()}
    assert outcomes.pop("std_msgs/msg/String") == "kept raw"
    assert set(outcomes.values()) == {"mapped"}, outcomes
