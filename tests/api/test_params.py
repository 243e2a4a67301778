"""Strict parameter parsers (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.api.params import (
    CursorError,
    decode_cursor,
    encode_cursor,
    format_bucket,
    parse_bucket,
    parse_rfc3339,
)
from gateway.api.routes_telemetry import choose_bucket


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-28T08:15:00Z", datetime(2026, 11, 28, 8, 15, tzinfo=UTC)),
    ("2026-11-28t08:15:00z", datetime(2026, 11, 28, 8, 15, tzinfo=UTC)),
    ("2026-11-28T16:15:00+08:00", datetime(2026, 11, 28, 8, 15, tzinfo=UTC)),
    ("2026-11-28T16:15:00 08:00", datetime(2026, 11, 28, 8, 15, tzinfo=UTC)),
    ("2026-11-28T03:15:00-05:00", datetime(2026, 11, 28, 8, 15, tzinfo=UTC)),
    ("2026-11-28T08:15:00.123456789Z", datetime(2026, 11, 28, 8, 15, 0, 123456, tzinfo=UTC)),
    ("2026-11-28T08:15:00.5Z", datetime(2026, 11, 28, 8, 15, 0, 500000, tzinfo=UTC)),
    ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),
])
def test_rfc3339_accepts(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("text", [
    "2026-11-28", "2026-11-28T08:15:00", "2026-11-28T08:15Z", "2026-11-28T08:15:00+0800",
    "2026-02-30T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T08:60:00Z",
    "2026-11-28T08:15:00+24:00", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
    "1764316800", "", " 2026-11-28T08:15:00Z", "2026-11-28T08:15:00Z\n",
])
def test_rfc3339_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_rfc3339_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(datetime(2026, 1, 1))


@pytest.mark.parametrize(("text", "seconds"), [
    ("1s", 1), ("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400), ("90m", 5400),
    ("366d", 366 * 86400),
])
def test_bucket(text: str, seconds: int) -> None:
    assert parse_bucket(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "s", "0s", "05m", "1.5h", "-1h", "1 h", "1H", "1w",
                                  "1000000s", "367d", "1h30m", "5m\n"])
def test_bucket_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bucket(text)


def test_format_bucket() -> None:
    for text in ("1s", "45s", "5m", "90m", "1h", "36h", "1d", "7d"):
        assert format_bucket(parse_bucket(text)) == text
    assert format_bucket(timedelta(minutes=60)) == "1h"


def test_choose_bucket() -> None:
    assert choose_bucket(timedelta(minutes=5)) == timedelta(seconds=1)
    assert choose_bucket(timedelta(hours=1)) == timedelta(seconds=30)
    assert choose_bucket(timedelta(hours=24)) == timedelta(minutes=5)
    assert choose_bucket(timedelta(days=3650)) == timedelta(days=30)


def test_cursor_roundtrip_and_tampering() -> None:
    cursor = encode_cursor("2026-11-28T08:15:00+00:00", 17)
    assert decode_cursor(cursor, (str, int)) == ("2026-11-28T08:15:00+00:00", 17)
    for bad, types in [(cursor, (str,)), (cursor, (int, int)), ("%%%", (str,)),
                       (encode_cursor("a\x00b"), (str,)), (encode_cursor(True), (int,)),
                       (encode_cursor("\ud800"), (str,)), (encode_cursor(2**63), (int,))]:
        with pytest.raises(CursorError):
            decode_cursor(bad, types)  # type: ignore[arg-type]
