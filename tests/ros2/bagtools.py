"""Helpers for the bag tests: an MQTT subscriber that collects, and metadata.yaml counts."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml

from gateway.bags.importer import MqttTarget

SHARED_BAGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "ros2bags"


def metadata_counts(bag_dir: Path) -> dict[str, int]:
    info = yaml.safe_load((bag_dir / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    return {t["topic_metadata"]["name"]: int(t["message_count"])
            for t in info["topics_with_message_count"]}


@dataclass
class Received:
    topic: str
    payload: bytes
    props: dict[str, str]


@dataclass
class Collector:
    """Subscribes (QoS 1) to ``filter_`` on the broker at ``port`` and keeps what arrives."""

    port: int
    filter_: str
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"collector-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(self.filter_, qos=1)
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "subscription not acknowledged"

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        props = dict(getattr(msg.properties, "UserProperty", []) or [])
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), props))

    def wait_for(self, n: int, timeout_s: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(self.messages) < n:
            time.sleep(0.05)
        time.sleep(0.2)  # anything beyond n would show up as a surplus
        with self._lock:
            return list(self.messages)

    def per_ros_topic(self, prefix: str) -> Counter[str]:
        return Counter("/" + m.topic[len(prefix):] for m in self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def target(port: int) -> MqttTarget:
    return MqttTarget("127.0.0.1", port, client_id=f"bags-test-{uuid.uuid4().hex[:8]}")
