"""Shared bits for the simulator tests: a fixed clock anchor, small fleets, an MQTT collector."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices.topics import parse_topic
from simulators.config import FleetConfig
from tests.helpers import wait_for  # noqa: F401 - re-exported for the simulator tests

# 08:30 in Shenzhen (rush hour): the busiest time of the diurnal cycle.
START = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)


def small(**kw: Any) -> FleetConfig:
    base: dict[str, Any] = {"sensors": 21, "robots": 2, "drones": 1, "rate": 2.0,
                            "duration_s": 10.0, "seed": 7, "pace": False}
    return FleetConfig(**{**base, **kw})


def run_tag() -> str:
    return uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    @property
    def channel(self) -> str:
        return parse_topic(self.topic).channel.value

    @property
    def msg_id(self) -> str:
        return str(json.loads(self.payload)["msg_id"])


class Collector:
    """Subscribes (QoS 1) and keeps every JSON message whose msg_id carries ``tag``, so
    traffic of other tests on the shared broker is ignored."""

    def __init__(self, port: int, tag: str, topic: str = "city/#", retained: bool = False):
        self.tag = f"-{tag}-"
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"col-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        # retainHandling 2: only live messages, not what earlier runs left retained.
        opts = SubscribeOptions(qos=1, retainHandling=0 if retained else 2)
        self.client.on_connect = lambda c, *a: c.subscribe(topic, options=opts)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "no SUBACK"

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self.tag.encode() in msg.payload:
            with self._lock:
                self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def by_channel(self) -> Counter[str]:
        return Counter(m.channel for m in self.snapshot())

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
