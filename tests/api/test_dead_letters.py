"""``/api/v1/dead-letters``: newest first, limit, cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import Db, bearer


def _seed(db: Db, n: int) -> datetime:
    t0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    for i in range(n):
        # pairs share a received_at, as a refused batch does
        db.execute(
            "INSERT INTO dead_letters (received_at, topic, reason, payload_size,"
            " payload_excerpt, device_id) VALUES (%s, %s, %s, %s, %s, %s)",
            (t0 + timedelta(seconds=i // 2), f"city/futian/sensor/aq-{i:04d}/telemetry",
             f"reason {i}", 100 + i, f"payload {i}", f"aq-{i:04d}"),
        )
    return t0


def test_newest_first(client: TestClient, db: Db, tokens: dict[str, str]) -> None:
    t0 = _seed(db, 5)
    res = client.get("/api/v1/dead-letters", headers=bearer(tokens["operator"]))
    assert res.status_code == 200, res.text
    items = res.json()["items"]
    assert [i["reason"] for i in items] == [f"reason {i}" for i in (4, 3, 2, 1, 0)]
    first = items[0]
    assert first["topic"] == "city/futian/sensor/aq-0004/telemetry"
    assert first["payload_excerpt"] == "payload 4" and first["payload_size"] == 104
    assert first["device_id"] == "aq-0004"
    assert datetime.fromisoformat(first["received_at"]) == t0 + timedelta(seconds=2)
    assert res.json()["next_cursor"] is None


def test_limit_and_cursor(client: TestClient, db: Db, tokens: dict[str, str]) -> None:
    _seed(db, 7)
    op = bearer(tokens["operator"])
    res = client.get("/api/v1/dead-letters", params={"limit": 2}, headers=op)
    page = res.json()
    assert [i["reason"] for i in page["items"]] == ["reason 6", "reason 5"]
    reasons = [i["reason"] for i in page["items"]]
    while page["next_cursor"]:
        page = client.get("/api/v1/dead-letters", params={"limit": 2,
                          "cursor": page["next_cursor"]}, headers=op).json()
        reasons += [i["reason"] for i in page["items"]]
    assert reasons == [f"reason {i}" for i in range(6, -1, -1)]

    for bad in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"cursor": "bm9wZQ"}):
        res = client.get("/api/v1/dead-letters", params=bad, headers=op)
        assert res.status_code == 422, (bad, res.text)


def test_empty(client: TestClient, tokens: dict[str, str]) -> None:
    res = client.get("/api/v1/dead-letters", headers=bearer(tokens["operator"]))
    assert res.json() == {"items": [], "next_cursor": None}
