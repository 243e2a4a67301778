"""The gateway's MQTT v5 connection: persistent session, shared subscriptions, manual acks.

A QoS 1 message is acknowledged only after what it carries is committed to the database,
so a gateway killed mid-batch loses nothing: the broker redelivers (the persistent session
survives the restart) and the store's dedupe keeps redeliveries from being stored twice.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.ingest import wire
from gateway.store.batch import AckToken

log = logging.getLogger(__name__)

# CONNACK reason codes after which retrying cannot help (MQTT v5 §3.2.2.2).
AUTH_FAILURES = {0x86, 0x87, 0x8A, 0x8C}  # bad user/password, not authorized, banned, bad auth


class MqttAuthError(RuntimeError):
    """The broker refused our credentials; reconnecting would not help."""


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
    ca_file: str | None = None
    subscriptions: Sequence[str] = ()
    session_expiry_s: int = 3600
    clean_start: bool = False
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
    """A lean MQTT v5 client over a plain socket: one thread reads and parses every complete
    packet per read; acknowledgements go out in bulk from the writer thread."""

    def __init__(self, config: BusConfig, on_message: Callable[[Inbound], None], *,
                 generations: Iterator[int] | None = None, may_connect: Callable[[], bool] | None = None) -> None:
        """``generations`` numbers connections (shared by the buses of one process, so an ack
        token names its bus); ``may_connect`` gates every (re)connect (partitioned ingest: only
        while this gateway's lease on the session is known to be valid)."""
        self.config = config
        self._generations = generations if generations is not None else itertools.count(1)
        self._may_connect = may_connect
        self.stats = BusStats()
        self._on_message = on_message
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._generation = 0
        self._auth_error: str | None = None
        self._connected = threading.Event()
        self._rng = random.Random()
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._last_sent = 0.0
        self._next_id = 0
        self._outbound: dict[int, bytes] = {}  # our QoS 1 publishes awaiting PUBACK

    # -- lifecycle -------------------------------------------------------------------
    def start(self, wait_s: float = 10.0) -> None:
        self.start_background()
        deadline = time.monotonic() + wait_s
        while not self._connected.wait(0.05):
            if self._auth_error:
                raise MqttAuthError(self._auth_error)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no MQTT connection to {self.config.host}:{self.config.port}")

    def start_background(self) -> None:
        """Start without waiting for the first connection."""
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{self.config.client_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def generation(self) -> int:
        return self._generation

    # -- sending (any thread) ------------------------------------------------------------
    def _send(self, data: bytes) -> bool:
        sock = self._sock
        if sock is None:
            return False
        try:
            with self._send_lock:
                sock.sendall(data)
                self._last_sent = time.monotonic()
            return True
        except OSError as err:
            self.stats.last_error = f"send: {err}"
            return False

    def ack(self, token: AckToken) -> None:
        self.ack_many([token])

    def ack_many(self, tokens: Sequence[AckToken]) -> None:
        current = self._generation
        out = bytearray()
        for t in tokens:
            if t.qos == 0:
                continue
            if t.generation != current:
                # The connection that delivered it is gone; the broker will redeliver it.
                self.stats.stale_acks += 1
                continue
            out += wire.puback(t.mid)
        if out and self._send(bytes(out)):
            self.stats.acked += len(out) // 4

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                user_properties: list[tuple[str, str]] | None = None) -> None:
        """Low-volume publishing (tickets, commands); QoS 1 is resent after a reconnect."""
        packet_id = 0
        if qos:
            with self._send_lock:
                packet_id = self._allocate_id()
        data = wire.publish(topic, payload, qos=qos, packet_id=packet_id, retain=retain,
                            user_properties=user_properties)
        if qos:
            self._outbound[packet_id] = data
        self._send(data)

    def _allocate_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._outbound:
                return self._next_id
        raise RuntimeError("no free MQTT packet id")

    # -- the network thread ------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            if self._may_connect is not None and not self._may_connect():
                self._stop.wait(0.2)  # e.g. our lease on this session is not known to be valid
                continue
            try:
                self._session()
                attempt = 0
            except (OSError, wire.ProtocolError) as err:
                self.stats.last_error = str(err)
                log.warning("MQTT connection to %s:%s lost: %s",
                            self.config.host, self.config.port, err)
            finally:
                was_connected = self._connected.is_set()
                self._connected.clear()
                self.stats.connected = False
                if was_connected:
                    self.stats.disconnects += 1
                self._close_socket()
            if self._auth_error:
                log.error("MQTT broker refused us: %s; not retrying", self._auth_error)
                break
            if self._stop.is_set():
                break
            self._stop.wait(backoff_delay(attempt, self.config.backoff_min_s,
                                          self.config.backoff_max_s, self._rng))
            attempt += 1

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _open_socket(self) -> socket.socket:
        sock = socket.create_connection((self.config.host, self.config.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.config.tls:
            ctx = ssl.create_default_context(cafile=self.config.ca_file)
            sock = ctx.wrap_socket(sock, server_hostname=self.config.host)
        return sock

    def _session(self) -> None:
        cfg = self.config
        sock = self._open_socket()
        self._sock = sock
        # clean_start=False (the default): resume the session so messages queued while away arrive.
        self._send(wire.connect(
            cfg.client_id, keepalive=cfg.keepalive_s, clean_start=cfg.clean_start,
            session_expiry=cfg.session_expiry_s, receive_maximum=max(1, min(cfg.receive_maximum, 65535)),
            username=cfg.username, password=cfg.password))
        buf = bytearray()
        last_recv = time.monotonic()
        sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                chunk = sock.recv(262144)
            except TimeoutError:
                chunk = None
            now = time.monotonic()
            if chunk == b"":
                raise ConnectionResetError("broker closed the connection")
            if chunk:
                last_recv = now
                buf += chunk
                packets, used = wire.split_packets(buf)
                del buf[:used]
                for pkt in packets:
                    self._dispatch(pkt)
            if now - self._last_sent > cfg.keepalive_s / 2:
                self._send(wire.PINGREQ_PACKET)
            if now - last_recv > cfg.keepalive_s * 1.5:
                raise TimeoutError("broker silent past the keepalive")
        self._send(wire.DISCONNECT_PACKET)

    def _dispatch(self, pkt: wire.Packet) -> None:
        if pkt.ptype == wire.PUBLISH:
            p = wire.parse_publish(pkt.flags, pkt.body)
            self.stats.received += 1
            inbound = Inbound(p.topic, p.payload, p.user_properties, datetime.now(UTC),
                              AckToken(self._generation, p.packet_id, p.qos), p.dup)
            try:
                self._on_message(inbound)
            except Exception:  # never let a handler bug kill the network loop
                log.exception("message handler failed for %s", p.topic[:120])
        elif pkt.ptype == wire.PUBACK:
            self._outbound.pop(int.from_bytes(pkt.body[:2], "big"), None)
        elif pkt.ptype == wire.CONNACK:
            self._on_connack(pkt.body)
        elif pkt.ptype == wire.SUBACK:
            refused = [c for c in pkt.body[3 + pkt.body[2]:] if c >= 0x80] if len(pkt.body) > 2 else []
            if refused:
                log.error("broker refused subscription(s): reason codes %s", refused)
                self.stats.last_error = f"subscription refused: {refused}"
        elif pkt.ptype == wire.DISCONNECT:
            reason = pkt.body[0] if pkt.body else 0
            if reason in AUTH_FAILURES:
                self._auth_error = f"disconnected by broker, reason 0x{reason:02x}"
            raise ConnectionResetError(f"broker sent DISCONNECT (reason 0x{reason:02x})")

    def _on_connack(self, body: bytes) -> None:
        session_present, reason = bool(body[0] & 0x01), body[1]
        if reason >= 0x80:
            if reason in AUTH_FAILURES:
                self._auth_error = f"CONNACK reason 0x{reason:02x}"
            raise ConnectionRefusedError(f"broker refused the connection (reason 0x{reason:02x})")
        self._generation = next(self._generations)
        self.stats.connects += 1
        self.stats.connected = True
        # Resubscribe on every connect: harmless when the session kept them, needed when not.
        if self.config.subscriptions:
            with self._send_lock:
                sub_id = self._allocate_id()
            self._send(wire.subscribe(sub_id, list(self.config.subscriptions)))
        for data in list(self._outbound.values()):  # unacknowledged publishes, again (DUP)
            self._send(bytes([data[0] | 0x08]) + data[1:])
        self._connected.set()
        log.info("MQTT connected to %s:%s (session present: %s)",
                 self.config.host, self.config.port, session_present)
