"""One MQTT v5 connection of the publisher: a paho client tuned for a single-threaded loop.

paho does CONNECT/CONNACK, the last will, keepalive, DISCONNECT and reconnects. The hot
path is ours, because paho's costs ~40 µs of Python per QoS 1 message (a message object
with a lock, a Properties and two ReasonCode objects per PUBACK, one ``send()`` per packet,
three ``recv()`` per PUBACK):
- ``send_publish`` frames the PUBLISH itself into a write buffer the publisher flushes once
  per batch, and keeps the message until its PUBACK (resent with DUP after a reconnect);
- PUBACKs for those messages are decoded from their 2-3 bytes (``_handle_pubackcomp``);
- reads are served from a 64 KiB buffer.
These override private helpers of paho 2.x (pinned ``<3``); the publisher tests exercise
them against a real broker. Not thread-safe: one thread drives all links.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.encoding import Publish

READ_CHUNK = 65536
CLOSE_FLUSH_S = 2.0
PUBLISH_QOS1 = 0x32
DUP = 0x08
PROP_USER = 0x26


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, byte = n >> 7, n & 0x7F
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _str16(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return len(b).to_bytes(2, "big") + b


def encode_properties(user_properties: list[tuple[str, str]]) -> bytes:
    """MQTT v5 PUBLISH properties block (length prefix included) with user properties."""
    body = b"".join(bytes([PROP_USER]) + _str16(k) + _str16(v) for k, v in user_properties)
    return _varint(len(body)) + body


def publish_packet(mid: int, topic: bytes, payload: bytes, retain: bool, props: bytes,
                   dup: bool = False) -> bytes:
    """A QoS 1 MQTT v5 PUBLISH packet (MQTT 5.0 §3.3)."""
    header = PUBLISH_QOS1 | (DUP if dup else 0) | (1 if retain else 0)
    rest = len(topic).to_bytes(2, "big") + topic + mid.to_bytes(2, "big") + props
    return bytes([header]) + _varint(len(rest) + len(payload)) + rest + payload


AckCallback = Callable[[int, int], None]  # (mid, reason code)


class LinkClient(mqtt.Client):
    """paho ``Client`` with buffered socket I/O (overrides private helpers of paho 2.x)."""

    def __init__(self, client_id: str, on_ack: AckCallback | None = None) -> None:
        super().__init__(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
        self._rbuf = b""
        self._rpos = 0
        self._wbuf = bytearray()
        self._unacked: dict[int, tuple[bytes, bytes, bool, bytes]] = {}  # mid -> message
        self._next_mid = 0
        self.on_ack = on_ack

    # -- the QoS 1 hot path ---------------------------------------------------------------
    def send_publish(self, topic: bytes, payload: bytes, retain: bool, props: bytes) -> int:
        """Queue a QoS 1 PUBLISH; returns its packet id. Kept (and resent after a reconnect)
        until the PUBACK. While disconnected it only waits in ``_unacked``."""
        mid = self._next_mid
        while True:
            mid = mid % 65535 + 1
            if mid not in self._unacked:
                break
        self._next_mid = mid
        self._unacked[mid] = (topic, payload, retain, props)
        if self._sock is not None and self.is_connected():
            self._wbuf += publish_packet(mid, topic, payload, retain, props)
        return mid

    def resend_unacked(self) -> int:
        """After a CONNACK: send what the broker has not acknowledged, in order, with DUP
        (the platform deduplicates on msg_id)."""
        for mid, (topic, payload, retain, props) in self._unacked.items():
            self._wbuf += publish_packet(mid, topic, payload, retain, props, dup=True)
        return len(self._unacked)

    @property
    def unacked(self) -> int:
        return len(self._unacked)

    def _handle_pubackcomp(self, cmd: Any) -> mqtt.MQTTErrorCode:
        packet = self._in_packet["packet"]
        if cmd == "PUBACK" and len(packet) >= 2:
            mid = (packet[0] << 8) | packet[1]
            if self._unacked.pop(mid, None) is not None:
                if self.on_ack is not None:
                    self.on_ack(mid, packet[2] if len(packet) > 2 else 0)
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._handle_pubackcomp(cmd)

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            if self._sock is None:
                raise ConnectionError("not connected")
            data = self._sock.recv(READ_CHUNK)  # BlockingIOError when nothing is there
            if not data:
                return data  # EOF: paho treats b"" as connection lost
            self._rbuf, self._rpos = data, 0
        pos = self._rpos
        self._rpos = pos + bufsize  # an offset, not a re-slice: no copy of the rest per read
        return self._rbuf[pos:pos + bufsize]

    def _sock_send(self, buf: bytes | bytearray) -> int:
        if self._sock is None:
            raise ConnectionError("not connected")
        self._wbuf += buf  # written by flush_out(), once per batch
        return len(buf)

    def _sock_close(self) -> None:
        sock = cast("socket.socket | None", self._sock)
        if sock is not None and self._wbuf:
            # A DISCONNECT (or the last publishes) must reach the broker before the close.
            with contextlib.suppress(OSError, ValueError):
                sock.settimeout(CLOSE_FLUSH_S)
                sock.sendall(bytes(self._wbuf))
        self._wbuf.clear()
        self._rbuf, self._rpos = b"", 0
        super()._sock_close()

    @property
    def has_input(self) -> bool:
        """Bytes read from the socket but not parsed yet."""
        return self._rpos < len(self._rbuf)

    @property
    def has_output(self) -> bool:
        return bool(self._wbuf)

    @property
    def out_bytes(self) -> int:
        return len(self._wbuf)

    def flush_out(self) -> bool:
        """Write what the socket takes now; True when nothing is left. Raises OSError."""
        if not self._wbuf or self._sock is None:
            return True
        try:
            n = self._sock.send(self._wbuf)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return False
        del self._wbuf[:n]
        return not self._wbuf

    def drop(self) -> None:
        """Cut the TCP connection without DISCONNECT (as a crashed device would, so the broker
        publishes the will); paho notices on the next read and reports the disconnect."""
        sock = cast("socket.socket | None", self._sock)
        if sock is not None:
            self._wbuf.clear()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@dataclass(eq=False)  # identity semantics: links live in sets
class Link:
    """A connection and its bookkeeping. ``will`` builds the last will for connect number n;
    ``on_connect`` returns what to publish after connect number n (n > 1 is a reconnect)."""

    name: str
    client: LinkClient
    will: Callable[[int], Publish] | None = None
    on_connect: Callable[[int], list[Publish]] | None = None
    connected: bool = False
    connects: int = 0  # successful CONNACKs
    attempts: int = 0  # connect attempts since the last success (drives the backoff)
    next_attempt: float = 0.0  # monotonic time of the next reconnect attempt
    just_connected: bool = False  # CONNACK seen; on_connect publishes run outside callbacks
    error: str | None = None  # why the last connect was refused
    window: int = 1000  # in-flight limit: ours, capped by the broker's Receive Maximum
    rejected: int = 0  # PUBACK with a failure reason code (e.g. not authorised)
    inflight_channel: dict[int, str] = field(default_factory=dict)  # mid -> channel
    write_armed: bool = False  # registered for EVENT_WRITE (socket buffer was full)
    subscriptions: tuple[str, ...] = ()  # topics (QoS 1) subscribed again after every connect

    @property
    def inflight(self) -> int:
        return self.client.unacked
