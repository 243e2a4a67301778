"""``/api/v1/devices/{id}/telemetry``: time_bucket correctness, defaults and limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Db, bearer

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
URL = "/api/v1/devices/aq-0001/telemetry"


def _get(client: TestClient, token: str, **params: str) -> dict:  # type: ignore[type-arg]
    res = client.get(URL, params=params, headers=bearer(token))
    assert res.status_code == 200, res.text
    return res.json()  # type: ignore[no-any-return]


def test_bucketing(client: TestClient, db: Db, tokens: dict[str, str]) -> None:
    db.device("aq-0001")
    db.device("aq-0002")
    s = timedelta(seconds=1)
    db.telemetry("aq-0001", "pm25", [
        (T0 - s, 999.0),                                   # before start: excluded
        (T0, 10.0), (T0 + 30 * s, 20.0), (T0 + 299 * s, 30.0),  # bucket 08:00
        # nothing in 08:05
        (T0 + 600 * s, 5.0), (T0 + 601 * s, 7.0),          # bucket 08:10
        (T0 + 900 * s, 1.0),                               # at end: excluded
    ])
    db.telemetry("aq-0001", "pm10", [(T0 + s, 500.0)])     # other metric
    db.telemetry("aq-0002", "pm25", [(T0 + s, 500.0)])     # other device

    body = _get(client, tokens["operator"], metric="pm25", start=T0.isoformat(),
                end=(T0 + 900 * s).isoformat(), bucket="5m")
    assert body["bucket"] == "5m" and body["metric"] == "pm25"
    assert body["items"] == [
        {"bucket": "2026-11-28T08:00:00Z", "avg": 20.0, "min": 10.0, "max": 30.0, "count": 3},
        {"bucket": "2026-11-28T08:10:00Z", "avg": 6.0, "min": 5.0, "max": 7.0, "count": 2},
    ]

    body = _get(client, tokens["operator"], metric="pm25", start="2026-11-28T16:00:00+08:00",
                end="2026-11-28T08:15:00Z", bucket="1h")
    assert body["items"] == [
        {"bucket": "2026-11-28T08:00:00Z", "avg": 14.4, "min": 5.0, "max": 30.0, "count": 5}
    ]
    assert body["start"] == "2026-11-28T08:00:00Z"

    body = _get(client, tokens["operator"], metric="pm25", start=T0.isoformat(),
                end=(T0 + 60 * s).isoformat(), bucket="30s")
    assert [(i["bucket"], i["count"]) for i in body["items"]] == [
        ("2026-11-28T08:00:00Z", 1), ("2026-11-28T08:00:30Z", 1)]

    body = _get(client, tokens["operator"], metric="no2", start=T0.isoformat(),
                end=(T0 + 60 * s).isoformat())
    assert body["items"] == []


def test_defaults(client: TestClient, db: Db, tokens: dict[str, str]) -> None:
    db.device("aq-0001")
    now = datetime.now(UTC)
    db.telemetry("aq-0001", "pm25", [(now - timedelta(hours=2), 4.0),
                                     (now - timedelta(hours=30), 8.0)])
    body = _get(client, tokens["operator"], metric="pm25")
    # default range: the last 24 h, with a bucket giving at most 300 buckets (5m)
    assert body["bucket"] == "5m"
    end = datetime.fromisoformat(body["end"])
    assert abs((end - now).total_seconds()) < 60
    assert end - datetime.fromisoformat(body["start"]) == timedelta(hours=24)
    assert [i["avg"] for i in body["items"]] == [4.0]

    body = _get(client, tokens["operator"], metric="pm25", start=T0.isoformat(),
                end=(T0 + timedelta(days=7)).isoformat())
    assert body["bucket"] == "1h"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bucket": "5"}, "bucket"),
        ({"bucket": "5min"}, "bucket"),
        ({"bucket": "0s"}, "bucket"),
        ({"bucket": "-5m"}, "bucket"),
        ({"bucket": "1.5h"}, "bucket"),
        ({"bucket": "1w"}, "bucket"),
        ({"bucket": "367d"}, "bucket"),
        ({"start": "2026-11-28"}, "start"),
        ({"start": "2026-11-28T08:00:00"}, "start"),  # no offset
        ({"start": "1764316800"}, "start"),  # epoch seconds are not RFC 3339
        ({"start": "2026-13-01T00:00:00Z"}, "start"),
        ({"end": "2026-11-28T25:00:00Z"}, "end"),
        ({"end": "yesterday"}, "end"),
        ({"start": "2026-11-28T09:00:00Z", "end": "2026-11-28T08:00:00Z"}, "start"),
        ({"start": "2026-11-28T08:00:00Z", "end": "2026-11-28T08:00:00Z"}, "start"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-12-31T00:00:00Z", "bucket": "1m"},
         "bucket"),  # 10,000 buckets at most
        ({"end": "0001-01-01T00:00:00Z"}, "end"),  # default start would precede year 1
        ({"metric": "PM25"}, "metric"),
        ({"metric": ""}, "metric"),
    ],
)
def test_bad_parameters(
    client: TestClient, db: Db, tokens: dict[str, str], params: dict[str, str], field: str
) -> None:
    db.device("aq-0001")
    query = {"metric": "pm25", **params}
    res = client.get(URL, params=query, headers=bearer(tokens["operator"]))
    assert res.status_code == 422, res.text
    errors = res.json()["detail"]
    assert any(e["loc"][-1] == field for e in errors), errors


def test_limits_and_lookups(client: TestClient, db: Db, tokens: dict[str, str]) -> None:
    db.device("aq-0001")
    op = tokens["operator"]
    # exactly 10,000 one-second buckets is allowed
    body = _get(client, op, metric="pm25", start=T0.isoformat(),
                end=(T0 + timedelta(seconds=10_000)).isoformat(), bucket="1s")
    assert body["items"] == []
    res = client.get(URL, params={"metric": "pm25", "start": T0.isoformat(),
                                  "end": (T0 + timedelta(seconds=10_001)).isoformat(),
                                  "bucket": "1s"}, headers=bearer(op))
    assert res.status_code == 422 and "10001" in res.text
    # the widest range the API can express still fits in 10,000 yearly buckets
    body = _get(client, op, metric="pm25", start="0001-01-01T00:00:00Z",
                end="9999-12-31T23:59:59Z")
    assert body["bucket"] == "366d" and body["items"] == []
    # an unencoded '+' arrives as a space: read as the offset it was meant to be
    res = client.get(URL + "?metric=pm25&start=2026-11-28T16:00:00+08:00"
                     "&end=2026-11-28T17:00:00+08:00", headers=bearer(op))
    assert res.status_code == 200, res.text
    assert res.json()["start"] == "2026-11-28T08:00:00Z"
    res = client.get("/api/v1/devices/ghost-01/telemetry", params={"metric": "pm25"},
                     headers=bearer(op))
    assert res.status_code == 404
