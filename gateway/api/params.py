"""Strict parsers for query parameters: RFC 3339 times, bucket widths, opaque cursors.

They are pydantic ``BeforeValidator`` types so a bad value becomes an ordinary 422 whose
message says what was expected, and OpenAPI shows a string with a pattern and examples.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Path
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator, WithJsonSchema

from devices.topics import NAME_RE

# RFC 3339 section 5.6 date-time. A space before the offset is accepted as '+': an
# unencoded '+' in a query string arrives as a space, and the result is unambiguous.
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?"
    r"(?:([Zz])|([+\- ])(\d{2}):(\d{2}))$"
)
_BUCKET = re.compile(r"^([1-9][0-9]{0,5})([smhd])$")
_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
MAX_BUCKET = timedelta(days=366)


def parse_rfc3339(value: Any) -> datetime:
    """An RFC 3339 date-time with an offset, as an aware UTC ``datetime``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("time must carry a UTC offset")
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError("time must be an RFC 3339 string")
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ValueError(
            f"{value[:40]!r} is not an RFC 3339 date-time with offset,"
            " e.g. 2026-11-28T08:15:00Z or 2026-11-28T08:15:00%2B08:00"
        )
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7) or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    if m.group(8):
        offset = timedelta(0)
    else:
        sign = -1 if m.group(9) == "-" else 1
        hours, minutes = int(m.group(10)), int(m.group(11))
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value[:40]!r} has an impossible UTC offset")
        offset = sign * timedelta(hours=hours, minutes=minutes)
    try:
        # A leap second (:60) is clamped: Python datetimes cannot hold it.
        second = 59 if second == 60 else second
        naive = datetime(year, month, day, hour, minute, second, micro)
        return (naive - offset).replace(tzinfo=UTC)
    except (ValueError, OverflowError) as err:
        raise ValueError(f"{value[:40]!r} is not a valid date-time: {err}") from err


def parse_bucket(value: Any) -> timedelta:
    """``30s``, ``5m``, ``1h``, ``1d``: a positive whole number and one unit, at most 366 d."""
    if isinstance(value, timedelta):
        width = value
    elif isinstance(value, str) and (m := _BUCKET.fullmatch(value)):
        width = timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    else:
        raise ValueError(
            f"bucket {str(value)[:20]!r} must be a whole number followed by s, m, h or d,"
            " e.g. 30s, 5m, 1h, 1d"
        )
    if width <= timedelta(0) or width > MAX_BUCKET:
        raise ValueError(f"bucket must be between 1s and {MAX_BUCKET.days}d")
    return width


def format_bucket(width: timedelta) -> str:
    """The shortest ``parse_bucket`` spelling of ``width``."""
    seconds = int(width.total_seconds())
    for unit, size in _UNITS.items():
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every width is a whole number of seconds")


Rfc3339 = Annotated[
    datetime,
    BeforeValidator(parse_rfc3339),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "examples": ["2026-11-28T08:15:00Z"]}
    ),
]
Bucket = Annotated[
    timedelta,
    BeforeValidator(parse_bucket),
    WithJsonSchema(
        {"type": "string", "pattern": _BUCKET.pattern, "examples": ["30s", "5m", "1h", "1d"]}
    ),
]

DeviceId = Annotated[str, Path(pattern=NAME_RE.pattern, examples=["robot-07"])]


def is_storable_text(value: str) -> bool:
    """PostgreSQL text holds no NUL and only valid UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


class CursorError(ValueError):
    pass


def encode_cursor(*keys: str | int | float) -> str:
    """An opaque keyset cursor: the sort keys of the last item of a page."""
    raw = json.dumps(list(keys), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...]) -> tuple[Any, ...]:
    """Reverse ``encode_cursor``, checking the number and types of the keys."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        keys = json.loads(raw)
    except (binascii.Error, ValueError) as err:
        raise CursorError("cursor is not one this API issued") from err
    if (
        not isinstance(keys, list)
        or len(keys) != len(types)
        or not all(
            isinstance(k, t) and not isinstance(k, bool)
            for k, t in zip(keys, types, strict=True)
        )
    ):
        raise CursorError("cursor is not one this API issued")
    if any(
        (isinstance(k, str) and not is_storable_text(k))
        or (isinstance(k, int) and not -(2**63) <= k < 2**63)  # PostgreSQL bigint
        for k in keys
    ):
        raise CursorError("cursor is not one this API issued")
    return tuple(keys)


def query_error(name: str, message: str, value: Any) -> RequestValidationError:
    """A 422 shaped like FastAPI's own, for checks that span several parameters."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )
