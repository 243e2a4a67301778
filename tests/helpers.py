"""Test helpers: a gateway in a child process (so it can be SIGKILLed), a QoS 1 publisher
that waits for every PUBACK, and polling for rows."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parents[1]


def start_gateway(mqtt_url: str, db_url: str, log: Path, *, client_id: str = "test-gw",
                  http_port: int | None = None, share_group: str | None = None,
                  extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    # A test that shares a group gives it a name of its own: a persistent session left by an
    # earlier test's gateway stays a member of its group and would take its turn of messages.
    env = {**os.environ, "URBANOPS_MQTT_URL": mqtt_url, "URBANOPS_DATABASE_URL": db_url,
           "URBANOPS_MAINTENANCE_INTERVAL_S": "2", "URBANOPS_DATA_DIR": str(log.parent / "data"),
           "URBANOPS_MQTT_SHARE_GROUP": share_group or "", **(extra_env or {})}
    args = [sys.executable, "-m", "gateway.cli.main", "gateway", "--client-id", client_id]
    if http_port is None:
        args.append("--no-http")
    else:
        env["URBANOPS_HTTP_PORT"] = str(http_port)
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_for(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


def scalar(db_url: str, query: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(query).fetchone()
        return int(row[0]) if row and row[0] is not None else 0


def wait_gateway_subscribed(db_url: str, port: int, timeout_s: float = 20.0) -> None:
    """Publish a probe until the gateway has stored it: then its subscriptions are live."""
    probe = "city/probe/sensor/probe-0001/telemetry"
    seq = 0

    def stored() -> bool:
        nonlocal seq
        seq += 1
        publish(port, [(probe, b'{"ts":"%s","msg_id":"probe-%d","metrics":{"pm25":1}}'
                        % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode(), seq), None)])
        return wait_for(lambda: scalar(db_url, "SELECT count(*) FROM telemetry WHERE device_id='probe-0001'") > 0,
                        1.0, 0.1)

    if not wait_for(stored, timeout_s, 0.0):
        raise TimeoutError("gateway never stored the probe message")


class Publisher:
    """A QoS 1 publisher that counts broker acknowledgements."""

    def __init__(self, port: int, client_id: str = "test-pub") -> None:
        self.acked = 0
        self.sent = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(1000)
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, *args: object) -> None:
        with self._lock:
            self.acked += 1

    def publish(self, topic: str, payload: bytes, props: list[tuple[str, str]] | None = None) -> None:
        properties = None
        if props:
            properties = Properties(mqtt.PacketTypes.PUBLISH)
            properties.UserProperty = props
        self.client.publish(topic, payload, qos=1, properties=properties)
        self.sent += 1

    def close(self, timeout_s: float = 60.0) -> None:
        wait_for(lambda: self.acked >= self.sent, timeout_s, 0.05)
        self.client.loop_stop()
        self.client.disconnect()


def publish(port: int, items: Iterable[tuple[str, bytes, list[tuple[str, str]] | None]]) -> int:
    pub = Publisher(port, client_id=f"test-pub-{time.monotonic_ns()}")
    for topic, payload, props in items:
        pub.publish(topic, payload, props)
    pub.close()
    return pub.acked


def scrape(base_url: str) -> dict[str, float]:
    """``/metrics`` as {name{labels}: value} (Prometheus text format, comments skipped); empty
    while the server is not listening yet, so ``wait_for`` keeps waiting instead of failing (a
    gateway subscribes to the broker before its HTTP server is up, later still on a loaded machine)."""
    try:
        text = httpx.get(f"{base_url}/metrics", timeout=10).text
    except httpx.TransportError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def demo_zones() -> Any:
    """Vision's zone map from the shipped demo city pack (what the gateway passes the sink)."""
    from citypack.cached import pack_at
    from vision.zones import ZoneMap

    return ZoneMap.from_features(pack_at().zone_features())
