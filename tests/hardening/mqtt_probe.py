"""A small paho MQTT v5 client for security tests: records the CONNACK, SUBACK and PUBACK
reason codes the broker answers with, and every message it receives."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.helpers import wait_for


@dataclass
class Probe:
    client: mqtt.Client
    connack: int | None = None
    pubacks: dict[int, int] = field(default_factory=dict)  # mid -> reason code
    subacks: list[list[int]] = field(default_factory=list)
    received: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        """Publish and wait for the PUBACK; return its reason code (QoS 1) or -1 (QoS 0)."""
        info = self.client.publish(topic, payload, qos=qos)
        if qos == 0:
            return -1
        assert wait_for(lambda: info.mid in self.pubacks, 5, 0.02), f"no PUBACK for {topic}"
        return self.pubacks[info.mid]

    def subscribe(self, topic: str) -> list[int]:
        before = len(self.subacks)
        self.client.subscribe(topic, qos=1)
        assert wait_for(lambda: len(self.subacks) > before, 5, 0.02), f"no SUBACK for {topic}"
        return self.subacks[before]

    def topics(self) -> list[str]:
        with self.lock:
            return [t for t, _ in self.received]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def connect(port: int, username: str | None, password: str | None, *, client_id: str,
            ca_file: str | None = None, timeout_s: float = 5.0) -> Probe:
    """Connect and wait for the CONNACK (``probe.connack``: 0 accepted, >= 0x80 refused)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.reconnect_delay_set(60, 60)  # a refused probe must not retry behind the test's back
    probe = Probe(client)
    if username is not None:
        client.username_pw_set(username, password)
    if ca_file is not None:
        client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)

    def on_connect(c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: Properties | None) -> None:
        probe.connack = rc.value

    def on_publish(c: mqtt.Client, u: object, mid: int, rc: ReasonCode, p: Properties | None) -> None:
        probe.pubacks[mid] = rc.value

    def on_subscribe(c: mqtt.Client, u: object, mid: int, rcs: list[ReasonCode], p: Properties | None) -> None:
        probe.subacks.append([r.value for r in rcs])

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        with probe.lock:
            probe.received.append((m.topic, bytes(m.payload)))

    client.on_connect, client.on_publish = on_connect, on_publish
    client.on_subscribe, client.on_message = on_subscribe, on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not wait_for(lambda: probe.connack is not None, timeout_s, 0.02):
        probe.close()
        raise TimeoutError(f"no CONNACK from 127.0.0.1:{port}")
    if probe.connack:
        client.loop_stop()
    return probe


def accepted(probe: Probe) -> bool:
    return probe.connack == 0


def settle(seconds: float = 0.5) -> None:
    """Give the broker time to route what it would route (used before asserting absence)."""
    time.sleep(seconds)
