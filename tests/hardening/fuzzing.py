"""Shared hypothesis settings and strategies for the fuzz tests."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Bounded so the whole directory stays fast; no example database (nothing written to the repo).
FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Mosquitto refuses U+0000 and lone surrogates in topics and user properties (checked by
# hand: it disconnects the client with 0x81), so such strings never reach the gateway there.
wire_text = st.characters(codec="utf-8", exclude_characters="\x00")
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


def dumps(value: Any) -> bytes:
    """JSON the way a careless device writes it: NaN/Infinity allowed, any unicode."""
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def storable(value: object) -> bool:
    """Whether PostgreSQL can hold ``value`` in a text column: UTF-8 without NUL."""
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def mutate_bytes(data: bytes, draw: st.DrawFn) -> bytes:
    """Flip, cut, insert, truncate, or plant a huge 4-byte length: how CDR and MQTT break."""
    raw = bytearray(data)
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "length"]))
        pos = draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[pos] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del raw[pos:pos + draw(st.integers(1, 16))]
        elif op == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "truncate":
            del raw[pos:]
        elif len(raw) >= pos + 4:  # a huge length or count where a 4-byte field was
            raw[pos:pos + 4] = draw(st.sampled_from([b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\xff\xff\xff\xff"]))
    return bytes(raw)
