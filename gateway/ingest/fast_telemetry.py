"""A fast decoder for the commonest message, telemetry, that the pydantic model still governs.

``Telemetry.model_validate_json`` costs several microseconds a message and was the largest
part of the gateway's CPU per message. This decoder (msgspec) accepts only messages it can
be sure the model accepts, with the same values: plain ASCII, not deeply nested, an
RFC 3339 timestamp with an offset, and every field rule of the model checked here. Anything
else — every message the model would refuse, and the odd valid one outside that subset —
returns None and goes through the model, so accepted messages and dead-letter reasons stay
exactly the model's. ``tests/gateway/test_fast_telemetry.py`` checks the two agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime

import msgspec

from devices.payloads import MAX_JSON_BYTES

_MSG_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # devices.payloads.MsgId
# The one timestamp shape taken here (what the fleet sends); pydantic reads more, and those
# go to it. fromisoformat reads exactly these the way pydantic does (checked by the tests).
_TS = re.compile(r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
                 r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)")
# jiter (pydantic's JSON parser) refuses nesting deeper than 200 even in ignored fields;
# msgspec skips them. A payload this short cannot nest that deep; a longer one is counted.
_SHALLOW_BYTES = 400
_MAX_BRACKETS = 200
_TS_CACHE_SIZE = 4096


class FastPosition(msgspec.Struct, frozen=True):
    """Attribute names as ``devices.payloads.Position``, so the router reads either."""

    lat: float
    lon: float
    alt_m: float | None = None


class FastTelemetry(msgspec.Struct, frozen=True):
    ts: str
    msg_id: str
    metrics: dict[str, float]
    position: FastPosition | None = None


class ParsedTelemetry(msgspec.Struct, frozen=True):
    ts: datetime
    msg_id: str
    metrics: dict[str, float]
    position: FastPosition | None


def _position_ok(p: FastPosition) -> bool:
    return (math.isfinite(p.lat) and -90 <= p.lat <= 90 and math.isfinite(p.lon) and -180 <= p.lon <= 180
            and (p.alt_m is None or (math.isfinite(p.alt_m) and -500 <= p.alt_m <= 20000)))


class TelemetryDecoder:
    """``decode(payload, allowed_metrics)``: the message, or None for "ask the model"."""

    def __init__(self) -> None:
        self._decoder = msgspec.json.Decoder(FastTelemetry)
        self._ts: dict[str, datetime] = {}  # many messages share a timestamp string
        self._fromisoformat: Callable[[str], datetime] = datetime.fromisoformat

    def timestamp(self, text: str) -> datetime | None:
        ts = self._ts.get(text)
        if ts is not None:
            return ts
        if not _TS.fullmatch(text):
            return None
        try:
            ts = self._fromisoformat(text)
        except ValueError:
            return None
        if len(self._ts) >= _TS_CACHE_SIZE:
            self._ts.clear()
        self._ts[text] = ts
        return ts

    def decode(self, payload: bytes, allowed_metrics: frozenset[str]) -> ParsedTelemetry | None:
        # Non-ASCII: msgspec does not check UTF-8 in fields it skips, jiter does.
        if not payload.isascii() or len(payload) > MAX_JSON_BYTES or (
                len(payload) > _SHALLOW_BYTES and payload.count(b"{") + payload.count(b"[") > _MAX_BRACKETS):
            return None
        try:
            raw = self._decoder.decode(payload)
        except msgspec.DecodeError:
            return None
        metrics = raw.metrics
        if not 1 <= len(metrics) <= 64 or not _MSG_ID.fullmatch(raw.msg_id):
            return None
        for name, value in metrics.items():
            if name not in allowed_metrics or not math.isfinite(value):
                return None
        if raw.position is not None and not _position_ok(raw.position):
            return None
        ts = self.timestamp(raw.ts)
        if ts is None:
            return None
        return ParsedTelemetry(ts, raw.msg_id, metrics, raw.position)
