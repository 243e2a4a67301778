from __future__ import annotations

import pytest

from devices.topics import Channel, Kind, Topic, TopicError, parse_topic, shared, subscription, tickets_topic


@pytest.mark.parametrize("channel", [c for c in Channel if c is not Channel.ROS2])
def test_round_trip(channel: Channel) -> None:
    t = Topic("futian", Kind.DRONE, "drone-03", channel)
    assert parse_topic(t.render()) == t


def test_ros2_topic_keeps_nested_ros_name() -> None:
    t = parse_topic("city/nanshan/robot/robot-07/ros2/camera/image_raw/compressed")
    assert t.channel is Channel.ROS2
    assert t.ros_topic == "/camera/image_raw/compressed"
    assert t.render() == "city/nanshan/robot/robot-07/ros2/camera/image_raw/compressed"


@pytest.mark.parametrize(
    "topic, reason",
    [
        ("town/futian/drone/d1/telemetry", "not a device topic"),
        ("city/futian/drone/d1", "not a device topic"),
        ("city/futian/boat/d1/telemetry", "unknown device kind"),
        ("city/futian/drone/d1/gossip", "unknown channel"),
        ("city/Futian/drone/d1/telemetry", "district"),
        ("city/futian/drone/-d1/telemetry", "device_id"),
        ("city/futian/drone/" + "d" * 65 + "/telemetry", "device_id"),
        ("city/futian/drone/d1/telemetry/extra", "unexpected segments"),
        ("city/futian/drone/d1/ros2", "without a ROS topic"),
        ("city/futian/drone/d1/ros2/bad-name", "invalid ROS topic"),
        ("city/futian/drone/d1'; DROP TABLE devices;--/telemetry", "device_id"),
    ],
)
def test_rejects_with_reason(topic: str, reason: str) -> None:
    with pytest.raises(TopicError, match=reason):
        parse_topic(topic)


def test_filters() -> None:
    assert subscription(Channel.TELEMETRY) == "city/+/+/+/telemetry"
    assert subscription(Channel.ROS2) == "city/+/+/+/ros2/#"
    assert shared("city/+/+/+/event", "gateway") == "$share/gateway/city/+/+/+/event"
    assert tickets_topic("futian") == "city/futian/tickets"
    with pytest.raises(TopicError):
        tickets_topic("../etc")
