"""Topic builder and parser for ``city/{district}/{kind}/{device_id}/...`` (SPEC §2).

Nothing else in the code base splits topic strings by hand: build with ``Topic(...).render()``
and read with ``parse_topic``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ROOT = "city"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# ROS topic segments as they appear after ``/ros2/`` (ROS names: letters, digits, underscore).
ROS_SEGMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class Kind(StrEnum):
    DRONE = "drone"
    ROBOT = "robot"
    SENSOR = "sensor"


class Channel(StrEnum):
    TELEMETRY = "telemetry"
    STATUS = "status"
    EVENT = "event"
    FRAME = "frame"
    ROS2 = "ros2"
    CMD = "cmd"


class TopicError(ValueError):
    """A topic that is not part of the contract."""


def check_name(value: str, what: str) -> str:
    if not NAME_RE.match(value):
        raise TopicError(f"{what} {value[:80]!r} must match {NAME_RE.pattern}")
    return value


@dataclass(frozen=True, slots=True)
class Topic:
    district: str
    kind: Kind
    device_id: str
    channel: Channel
    ros_topic: str | None = None  # e.g. "/fix" for channel ros2

    def __post_init__(self) -> None:
        check_name(self.district, "district")
        check_name(self.device_id, "device_id")
        if (self.channel is Channel.ROS2) != (self.ros_topic is not None):
            raise TopicError("ros_topic is required for, and only for, the ros2 channel")
        if self.ros_topic is not None:
            _ros_segments(self.ros_topic)

    def render(self) -> str:
        base = f"{ROOT}/{self.district}/{self.kind.value}/{self.device_id}/{self.channel.value}"
        if self.ros_topic is None:
            return base
        return base + "/" + "/".join(_ros_segments(self.ros_topic))

    @property
    def device_prefix(self) -> str:
        return device_prefix(self.district, self.kind, self.device_id)


def _ros_segments(ros_topic: str) -> list[str]:
    segments = [s for s in ros_topic.strip("/").split("/")]
    if not segments or not all(ROS_SEGMENT_RE.match(s) for s in segments):
        raise TopicError(f"invalid ROS topic name {ros_topic[:80]!r}")
    return segments


def device_prefix(district: str, kind: Kind | str, device_id: str) -> str:
    return f"{ROOT}/{check_name(district, 'district')}/{Kind(kind).value}/{check_name(device_id, 'device_id')}"


def tickets_topic(district: str) -> str:
    return f"{ROOT}/{check_name(district, 'district')}/tickets"


def parse_topic(topic: str) -> Topic:
    """Parse a device topic; raise ``TopicError`` with a reason for anything else."""
    if len(topic) > 512:
        raise TopicError("topic longer than 512 characters")
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != ROOT:
        raise TopicError(f"not a device topic: {topic[:120]!r}")
    _, district, kind, device_id, channel, *rest = parts
    try:
        kind_v = Kind(kind)
    except ValueError as err:
        raise TopicError(f"unknown device kind {kind[:40]!r}") from err
    try:
        channel_v = Channel(channel)
    except ValueError as err:
        raise TopicError(f"unknown channel {channel[:40]!r}") from err
    if channel_v is Channel.ROS2:
        if not rest:
            raise TopicError("ros2 topic without a ROS topic name")
        return Topic(district, kind_v, device_id, channel_v, "/" + "/".join(rest))
    if rest:
        raise TopicError(f"unexpected segments after {channel!r}")
    return Topic(district, kind_v, device_id, channel_v)


def subscription(channel: Channel | str = "+", district: str = "+", kind: str = "+") -> str:
    """A wildcard filter over device topics, e.g. ``city/+/+/+/telemetry``."""
    ch = channel.value if isinstance(channel, Channel) else channel
    suffix = f"{ch}/#" if ch == Channel.ROS2.value else ch
    return f"{ROOT}/{district}/{kind}/+/{suffix}"


def shared(filter_: str, group: str) -> str:
    """MQTT v5 shared subscription: processes in one group split the messages."""
    return f"$share/{check_name(group, 'share group')}/{filter_}"
