"""The gateway's MQTT v5 parser (``gateway.ingest.wire``) on random and mutated bytes: it
returns packets or raises ``ProtocolError``, nothing else (anything else would kill the
bus's network thread, which only catches OSError and ProtocolError)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from gateway.ingest import wire
from tests.hardening.fuzzing import FUZZ

VALID = wire.publish("city/futian/drone/d1/frame", b"\xff\xd8payload", qos=1, packet_id=7,
                     user_properties=[("ts", "2026-11-28T00:00:00Z"), ("lat", "22.5")])


@FUZZ
@given(st.binary(max_size=600))
def test_split_packets_on_random_bytes(data: bytes) -> None:
    buf = bytearray(data)
    try:
        packets, used = wire.split_packets(buf)
    except wire.ProtocolError:
        return
    assert 0 <= used <= len(data)
    # Each packet: 1 header byte, a 1-4 byte length (non-minimal encodings are tolerated), the body.
    assert sum(2 + len(p.body) for p in packets) <= used <= sum(5 + len(p.body) for p in packets)


@FUZZ
@given(st.integers(0, 15), st.binary(max_size=300))
@example(0x02, b"\x00\x01t\x00\x01\x01\x01")  # a byte property with its value missing
@example(0x02, b"\x00\x01t\x00\x01\x03\x26\x00")  # a user property cut short
def test_parse_publish_on_random_bodies(flags: int, body: bytes) -> None:
    try:
        p = wire.parse_publish(flags, body)
    except wire.ProtocolError:
        return
    assert isinstance(p.topic, str) and isinstance(p.payload, bytes)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in p.user_properties)


@FUZZ
@given(st.data())
def test_mutated_valid_publish(data: st.DataObject) -> None:
    raw = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del raw[pos:pos + data.draw(st.integers(1, 8))]
        else:
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        packets, _ = wire.split_packets(raw)
        for pkt in packets:
            if pkt.ptype == wire.PUBLISH:
                wire.parse_publish(pkt.flags, pkt.body)
    except wire.ProtocolError:
        pass
