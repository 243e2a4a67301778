"""MQTT v5 wire format: the packets the gateway's receive path needs, encoded and decoded.

Why not paho for the hot path: paho handles one packet per select() call with a lot of
per-packet bookkeeping, about 5k msg/s on this machine. Parsing every complete packet in
a socket read at once, and sending acknowledgements in bulk, is several times faster.
paho-mqtt remains the client for simulators and low-volume publishing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14

# Property id -> wire type (MQTT v5 §2.2.2.2).
_BYTE, _U16, _U32, _VARINT, _STR, _BIN, _PAIR = range(7)
PROPERTY_TYPES = {
    0x01: _BYTE, 0x02: _U32, 0x03: _STR, 0x08: _STR, 0x09: _BIN, 0x0B: _VARINT, 0x11: _U32,
    0x12: _STR, 0x13: _U16, 0x15: _STR, 0x16: _BIN, 0x17: _BYTE, 0x18: _U32, 0x19: _BYTE,
    0x1A: _STR, 0x1C: _STR, 0x1F: _STR, 0x21: _U16, 0x22: _U16, 0x23: _U16, 0x24: _BYTE,
    0x25: _BYTE, 0x26: _PAIR, 0x27: _U32, 0x28: _BYTE, 0x29: _BYTE, 0x2A: _BYTE,
}
USER_PROPERTY = 0x26
SESSION_EXPIRY, RECEIVE_MAXIMUM, MAX_PACKET_SIZE = 0x11, 0x21, 0x27


class ProtocolError(ValueError):
    """The peer sent bytes that are not valid MQTT v5."""


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int] | None:
    """(value, new position), or None when the buffer ends mid-number."""
    value, shift = 0, 0
    for i in range(4):
        if pos + i >= len(buf):
            return None
        byte = buf[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos + i + 1
        shift += 7
    raise ProtocolError("variable byte integer longer than 4 bytes")


def utf8(s: str) -> bytes:
    data = s.encode()
    return struct.pack("!H", len(data)) + data


def binary(b: bytes) -> bytes:
    return struct.pack("!H", len(b)) + b


def packet(ptype: int, flags: int, body: bytes) -> bytes:
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


def properties(props: list[tuple[int, object]]) -> bytes:
    out = bytearray()
    for pid, value in props:
        kind = PROPERTY_TYPES[pid]
        out.append(pid)
        if kind == _BYTE:
            out.append(int(value))  # type: ignore[call-overload]
        elif kind == _U16:
            out += struct.pack("!H", value)
        elif kind == _U32:
            out += struct.pack("!I", value)
        elif kind == _VARINT:
            out += varint(int(value))  # type: ignore[call-overload]
        elif kind == _STR:
            out += utf8(str(value))
        elif kind == _BIN:
            out += binary(bytes(value))  # type: ignore[call-overload]
        else:
            pair: tuple[str, str] = value  # type: ignore[assignment]
            out += utf8(pair[0]) + utf8(pair[1])
    return varint(len(out)) + bytes(out)


def parse_properties(buf: bytes | memoryview) -> list[tuple[int, object]]:
    props: list[tuple[int, object]] = []
    pos, end = 0, len(buf)
    while pos < end:
        pid = buf[pos]
        pos += 1
        kind = PROPERTY_TYPES.get(pid)
        if kind is None:
            raise ProtocolError(f"unknown property 0x{pid:02x}")
        if kind == _BYTE:
            if pos >= end:
                raise ProtocolError("truncated property")
            props.append((pid, buf[pos]))
            pos += 1
        elif kind == _U16:
            props.append((pid, int.from_bytes(buf[pos:pos + 2], "big")))
            pos += 2
        elif kind == _U32:
            props.append((pid, int.from_bytes(buf[pos:pos + 4], "big")))
            pos += 4
        elif kind == _VARINT:
            got = read_varint(buf, pos)
            if got is None:
                raise ProtocolError("truncated property")
            props.append((pid, got[0]))
            pos = got[1]
        else:
            n = int.from_bytes(buf[pos:pos + 2], "big")
            first = bytes(buf[pos + 2:pos + 2 + n])
            pos += 2 + n
            if kind == _PAIR:
                m = int.from_bytes(buf[pos:pos + 2], "big")
                second = bytes(buf[pos + 2:pos + 2 + m]).decode("utf-8", "replace")
                pos += 2 + m
                props.append((pid, (first.decode("utf-8", "replace"), second)))
            else:
                props.append((pid, first.decode("utf-8", "replace") if kind == _STR else first))
        if pos > end:
            raise ProtocolError("property runs past its packet")
    return props


def connect(client_id: str, *, keepalive: int, clean_start: bool, session_expiry: int,
            receive_maximum: int, username: str | None = None, password: str | None = None) -> bytes:
    flags = (0x02 if clean_start else 0) | (0x80 if username else 0) | (0x40 if password else 0)
    body = (utf8("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive)
            + properties([(SESSION_EXPIRY, session_expiry), (RECEIVE_MAXIMUM, receive_maximum),
                          (MAX_PACKET_SIZE, 16 * 1024 * 1024 + 1024)])
            + utf8(client_id))
    if username:
        body += utf8(username)
    if password:
        body += binary(password.encode())
    return packet(CONNECT, 0, body)


def subscribe(packet_id: int, filters: list[str], qos: int = 1) -> bytes:
    body = struct.pack("!H", packet_id) + properties([])
    for f in filters:
        body += utf8(f) + bytes([qos])
    return packet(SUBSCRIBE, 2, body)


def publish(topic: str, payload: bytes, *, qos: int, packet_id: int = 0, retain: bool = False,
            dup: bool = False, user_properties: list[tuple[str, str]] | None = None) -> bytes:
    flags = (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = utf8(topic)
    if qos:
        body += struct.pack("!H", packet_id)
    body += properties([(USER_PROPERTY, p) for p in user_properties or []]) + payload
    return packet(PUBLISH, flags, body)


_PUBACK_HEAD = bytes([PUBACK << 4, 2])


def puback(packet_id: int) -> bytes:
    return _PUBACK_HEAD + packet_id.to_bytes(2, "big")


PINGREQ_PACKET = bytes([PINGREQ << 4, 0])
DISCONNECT_PACKET = bytes([DISCONNECT << 4, 0])


@dataclass(slots=True)
class Packet:
    ptype: int
    flags: int
    body: bytes


@dataclass(slots=True)
class PublishPacket:
    topic: str
    payload: bytes
    qos: int
    packet_id: int
    dup: bool
    retain: bool
    user_properties: list[tuple[str, str]] = field(default_factory=list)


def parse_publish(flags: int, body: bytes) -> PublishPacket:
    qos = (flags >> 1) & 0x03
    tlen = int.from_bytes(body[0:2], "big")
    pos = 2 + tlen
    topic = body[2:pos].decode("utf-8", "replace")
    packet_id = 0
    if qos:
        packet_id = int.from_bytes(body[pos:pos + 2], "big")
        pos += 2
    got = read_varint(body, pos)
    if got is None:
        raise ProtocolError("truncated PUBLISH properties")
    plen, pos = got
    user: list[tuple[str, str]] = []
    if plen:  # parsed only when present: most telemetry carries none
        for pid, value in parse_properties(body[pos:pos + plen]):
            if pid == USER_PROPERTY:
                user.append(value)  # type: ignore[arg-type]
    return PublishPacket(topic, body[pos + plen:], qos, packet_id, bool(flags & 0x08),
                         bool(flags & 0x01), user)


def split_packets(buf: bytearray) -> tuple[list[Packet], int]:
    """Every complete packet at the start of ``buf`` and how many bytes they used."""
    out: list[Packet] = []
    pos, n = 0, len(buf)
    with memoryview(buf) as view:  # one copy per packet (a bytearray slice would be two)
        while pos + 2 <= n:
            length = buf[pos + 1]
            if length < 0x80:  # most packets: a one-byte remaining length
                start = pos + 2
            else:
                got = read_varint(buf, pos + 1)
                if got is None:
                    break
                length, start = got
            end = start + length
            if end > n:
                break
            first = buf[pos]
            out.append(Packet(first >> 4, first & 0x0F, bytes(view[start:end])))
            pos = end
    return out, pos
