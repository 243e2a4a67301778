"""The gateway's MQTT v5 connection: persistent session, shared subscriptions, manual acks.

A QoS 1 message is acknowledged only after what it carries is committed to the database,
so a gateway killed mid-batch loses nothing: the broker redelivers (the persistent session
survives the restart) and the store's dedupe keeps redeliveries from being stored twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger(__name__)

# CONNACK reason codes after which retrying cannot help (MQTT v5 §3.2.2.2).
AUTH_FAILURES = {134, 135, 138, 140}  # bad user/password, not authorized, banned, bad auth


class MqttAuthError(RuntimeError):
    """The broker refused our credentials; reconnecting would not help."""


@dataclass(frozen=True, slots=True)
class AckToken:
    generation: int  # which connection delivered it: a mid is only valid on that one
    mid: int
    qos: int


@dataclass(slots=True)
class Inbound:
    topic: str
    payload: bytes
    user_properties: list[tuple[str, str]]
    received_at: datetime
    ack: AckToken
    dup: bool = False


@dataclass
class BusConfig:
    host: str
    port: int
    client_id: str
    username: str | None = None
    password: str | None = None
    tls: bool = False
    subscriptions: Sequence[str] = ()
    session_expiry_s: int = 3600
    receive_maximum: int = 1000
    keepalive_s: int = 30
    backoff_min_s: float = 0.2
    backoff_max_s: float = 10.0


@dataclass
class BusStats:
    connects: int = 0
    disconnects: int = 0
    received: int = 0
    acked: int = 0
    stale_acks: int = 0
    connected: bool = False
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def backoff_delay(attempt: int, low: float, high: float, rng: random.Random) -> float:
    """Capped exponential backoff with full jitter (spreads reconnect storms)."""
    return rng.uniform(low, min(high, low * (2 ** min(attempt, 16))))


class MqttBus:
    """Owns one paho client and the thread that drives it."""

    def __init__(self, config: BusConfig, on_message: Callable[[Inbound], None]) -> None:
        self.config = config
        self.stats = BusStats()
        self._on_message = on_message
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._generation = 0
        self._auth_error: str | None = None
        self._connected = threading.Event()
        self._rng = random.Random()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=config.client_id,
            protocol=mqtt.MQTTv5, manual_ack=True,
        )
        if config.username:
            client.username_pw_set(config.username, config.password)
        if config.tls:
            client.tls_set()
        client.max_inflight_messages_set(1000)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        self._client = client

    # -- lifecycle -------------------------------------------------------------------
    def start(self, wait_s: float = 10.0) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-bus", daemon=True)
        self._thread.start()
        if not self._connected.wait(wait_s):
            raise TimeoutError(f"no MQTT connection to {self.config.host}:{self.config.port}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def ack(self, token: AckToken) -> None:
        if token.qos == 0:
            return
        if token.generation != self._generation:
            # The connection that delivered it is gone; the broker will redeliver it.
            self.stats.stale_acks += 1
            return
        self._client.ack(token.mid, token.qos)
        self.stats.acked += 1

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=qos, retain=retain)

    # -- the network thread ------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        first = True
        while not self._stop.is_set():
            try:
                if first:
                    self._connect()
                    first = False
                else:
                    self._client.reconnect()
            except (OSError, mqtt.WebsocketConnectionError) as err:
                self.stats.last_error = f"connect: {err}"
                self._sleep_backoff(attempt)
                attempt += 1
                continue
            while not self._stop.is_set():
                rc = self._client.loop(timeout=0.05)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            if self._auth_error:
                log.error("MQTT broker refused credentials: %s; not retrying", self._auth_error)
                break
            if self._stop.is_set():
                break
            attempt = 0 if self.stats.connected else attempt + 1
            self._sleep_backoff(attempt)
        try:
            self._client.disconnect()
            self._client.loop(timeout=0.1)
        except OSError:
            pass

    def _connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.session_expiry_s
        props.ReceiveMaximum = max(1, min(self.config.receive_maximum, 65535))
        # clean_start=False: resume the session so messages queued while we were away arrive.
        self._client.connect(
            self.config.host, self.config.port, keepalive=self.config.keepalive_s,
            clean_start=False, properties=props,
        )

    def _sleep_backoff(self, attempt: int) -> None:
        self._stop.wait(
            backoff_delay(attempt, self.config.backoff_min_s, self.config.backoff_max_s, self._rng)
        )

    def _handle_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            if reason.value in AUTH_FAILURES:
                self._auth_error = str(reason)
            self.stats.last_error = f"connack: {reason}"
            return
        self._generation += 1
        self.stats.connects += 1
        self.stats.connected = True
        # Resubscribe on every connect: harmless when the session kept them, needed when not.
        opts = SubscribeOptions(qos=1)
        if self.config.subscriptions:
            client.subscribe([(s, opts) for s in self.config.subscriptions])
        self._connected.set()
        log.info("MQTT connected to %s:%s (session present: %s)",
                 self.config.host, self.config.port, getattr(flags, "session_present", "?"))

    def _handle_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.stats.disconnects += 1
        self.stats.connected = False
        self._connected.clear()
        if reason.value in AUTH_FAILURES:
            self._auth_error = str(reason)
        log.warning("MQTT disconnected: %s", reason)

    def _handle_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        props = getattr(msg.properties, "UserProperty", None) or []
        inbound = Inbound(
            topic=msg.topic, payload=msg.payload, user_properties=list(props),
            received_at=datetime.now(UTC),
            ack=AckToken(self._generation, msg.mid, msg.qos), dup=bool(msg.dup),
        )
        try:
            self._on_message(inbound)
        except Exception:  # never let a handler bug kill the network loop
            log.exception("message handler failed for %s", msg.topic[:120])


def wait_until(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()
