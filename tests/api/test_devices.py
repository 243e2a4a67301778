"""``/api/v1/devices``: filters, online/offline derivation, detail, pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import Db, bearer


def _seed(db: Db) -> None:
    fresh, stale = timedelta(seconds=5), timedelta(seconds=600)  # offline_after_s is 120
    db.device("aq-0001", state="online", last_seen_ago=fresh, lat=22.54, lon=114.05)
    db.device("aq-0002", state="online", last_seen_ago=stale)  # silent: offline
    db.device("aq-0003", state="offline", last_seen_ago=fresh)  # said so: offline
    db.device("aq-0004", state="unknown", last_seen_ago=fresh)  # talks, no status yet
    db.device("robot-01", kind="robot", district="nanshan", state="busy", last_seen_ago=fresh)
    db.device("robot-02", kind="robot", district="nanshan", state="charging",
              last_seen_ago=stale)
    db.device("drone-01", kind="drone", state="error", last_seen_ago=fresh, battery_pct=None)


def _ids(client: TestClient, token: str, **params: str | int) -> list[str]:
    res = client.get("/api/v1/devices", params=params, headers=bearer(token))
    assert res.status_code == 200, res.text
    return [d["device_id"] for d in res.json()["items"]]


def test_online_offline_derivation(client: TestClient, db: Db, tokens: dict[str, str]) -> None:
    _seed(db)
    res = client.get("/api/v1/devices", headers=bearer(tokens["operator"]))
    by_id = {d["device_id"]: d for d in res.json()["items"]}
    expected = {
        "aq-0001": ("online", True), "aq-0002": ("offline", False),
        "aq-0003": ("offline", False), "aq-0004": ("online", True),
        "robot-01": ("busy", True), "robot-02": ("offline", False),
        "drone-01": ("error", True),
    }
    assert {k: (v["state"], v["online"]) for k, v in by_id.items()} == expected
    assert by_id["robot-02"]["reported_state"] == "charging"
    assert by_id["aq-0004"]["reported_state"] == "unknown"
    assert by_id["aq-0001"]["position"]["lat"] == 22.54
    assert by_id["aq-0002"]["position"] is None
    assert by_id["drone-01"]["battery_pct"] is None
    assert datetime.fromisoformat(by_id["aq-0001"]["last_seen"]).tzinfo is not None
    assert list(by_id) == sorted(by_id)


def test_filters(client: TestClient, db: Db, tokens: dict[str, str]) -> None:
    _seed(db)
    op = tokens["operator"]
    assert _ids(client, op, kind="robot") == ["robot-01", "robot-02"]
    assert _ids(client, op, district="nanshan", state="busy") == ["robot-01"]
    assert _ids(client, op, state="offline") == ["aq-0002", "aq-0003", "robot-02"]
    assert _ids(client, op, state="online") == ["aq-0001", "aq-0004"]
    assert _ids(client, op, online="false") == ["aq-0002", "aq-0003", "robot-02"]
    assert _ids(client, op, online="true", kind="sensor") == ["aq-0001", "aq-0004"]
    assert _ids(client, op, district="nowhere") == []
    for bad in ({"kind": "car"}, {"state": "asleep"}, {"district": "Not Valid"},
                {"limit": 0}, {"limit": 5001}, {"cursor": "garbage!"}):
        res = client.get("/api/v1/devices", params=bad, headers=bearer(op))
        assert res.status_code == 422, (bad, res.text)


def test_pagination(client: TestClient, db: Db, tokens: dict[str, str]) -> None:
    _seed(db)
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 3}
    for _ in range(5):
        res = client.get("/api/v1/devices", params=params, headers=bearer(tokens["operator"]))
        page = res.json()
        seen += [d["device_id"] for d in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 7


def test_detail(client: TestClient, db: Db, tokens: dict[str, str]) -> None:
    _seed(db)
    now = datetime.now(UTC)
    db.telemetry("robot-01", "speed_m_s", [(now, 1.0)])
    db.telemetry("robot-01", "battery_pct", [(now, 50.0), (now - timedelta(days=3), 60.0)])
    db.telemetry("robot-02", "brush_rpm", [(now, 900.0)])
    res = client.get("/api/v1/devices/robot-01", headers=bearer(tokens["operator"]))
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["device_id"] == "robot-01" and body["kind"] == "robot"
    assert body["state"] == "busy" and body["online"] is True
    assert body["metrics"] == ["battery_pct", "speed_m_s"]
    assert client.get("/api/v1/devices/aq-0002", headers=bearer(tokens["operator"])).json()[
        "metrics"] == []

    res = client.get("/api/v1/devices/ghost-01", headers=bearer(tokens["operator"]))
    assert res.status_code == 404 and "ghost-01" in res.json()["detail"]
    res = client.get("/api/v1/devices/BAD%20ID", headers=bearer(tokens["operator"]))
    assert res.status_code == 422
