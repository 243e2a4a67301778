"""How a device's messages become MQTT publishes: JSON (here) or ROS 2 CDR (``devices.ros2.encoder``).

An encoder turns one platform message into zero or more ``Publish`` records; the simulated
fleet hands those to its MQTT publisher, the gateway's bag import and ROS 2 bench replay them.
The ROS 2 encoder needs rosbags, so it is a module of its own (``simulators.fleet.load_encoder``
imports it only when ``--protocol ros2`` is chosen).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from devices.payloads import Event, FrameMeta, Status, Telemetry
from devices.topics import Channel, Topic


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    user_properties: list[tuple[str, str]] = field(default_factory=list)


DeviceMessage = Telemetry | Event | Status


class Encoder(Protocol):
    name: str

    def encode(self, base: Topic, message: DeviceMessage) -> list[Publish]:
        """``base`` is the device's topic for the message's JSON channel."""
        ...

    def encode_frame(self, base: Topic, meta: FrameMeta, jpeg: bytes) -> list[Publish]: ...


class JsonEncoder:
    name = "json"

    def encode(self, base: Topic, message: DeviceMessage) -> list[Publish]:
        retain = base.channel is Channel.STATUS
        return [Publish(base.render(), message.to_json(), retain=retain)]

    def encode_frame(self, base: Topic, meta: FrameMeta, jpeg: bytes) -> list[Publish]:
        return [Publish(base.render(), jpeg, user_properties=meta.to_user_properties())]
