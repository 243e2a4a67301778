"""A gateway restart keeps the state that decides what is new (#14 part 3): a sensor already
above its threshold does not raise the same level again, and a second sensor's reading of the
same flood joins the incident opened before the restart — one incident, one ticket."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from gateway.local_services import Mosquitto
from tests.helpers import Publisher, scalar, start_gateway, wait_for, wait_gateway_subscribed


def _reading(sensor: str, msg: str, level: float) -> tuple[str, bytes]:
    lat = 22.53 + (0.00045 if sensor == "rs-b" else 0.0)  # the two sensors stand 50 m apart
    body = {"ts": datetime.now(UTC).isoformat(), "msg_id": msg, "metrics": {"water_level_cm": level},
            "position": {"lat": lat, "lon": 114.06}}
    return f"city/futian/sensor/{sensor}/telemetry", json.dumps(body).encode()


def _send(port: int, name: str, *readings: tuple[str, bytes]) -> None:
    pub = Publisher(port, f"restart-pub-{name}")
    for topic, payload in readings:
        pub.publish(topic, payload)
    pub.close()


def test_restarted_gateway_neither_repeats_nor_splits(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    obs_a = "SELECT count(*) FROM observations WHERE device_id = 'rs-a'"
    gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id="gw-restart")
    try:
        wait_gateway_subscribed(db_url, broker.port)
        _send(broker.port, "before", _reading("rs-a", "a0", 2.0), _reading("rs-a", "a1", 45.0))
        assert wait_for(lambda: scalar(db_url, "SELECT count(*) FROM tickets WHERE district = 'futian'") == 1, 60)
        gw.terminate()
        assert gw.wait(30) == 0

        gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id="gw-restart")
        wait_gateway_subscribed(db_url, broker.port)
        # Sensor a is still in flood; then sensor b, 50 m away, sees the same water.
        _send(broker.port, "after", _reading("rs-a", "a2", 46.0),
              _reading("rs-b", "b0", 2.0), _reading("rs-b", "b1", 44.0))
        incident = "SELECT max(observation_count) FROM incidents WHERE district = 'futian'"
        assert wait_for(lambda: scalar(db_url, "SELECT count(*) FROM observations WHERE device_id = 'rs-b'") == 1
                        and scalar(db_url, "SELECT count(*) FROM triage_inbox") == 0, 60)
        assert scalar(db_url, "SELECT count(*) FROM telemetry WHERE device_id = 'rs-a'") == 3
        assert scalar(db_url, obs_a) == 1, "the restarted gateway raised sensor a's level again"
        assert scalar(db_url, "SELECT count(*) FROM incidents WHERE district = 'futian'") == 1
        assert scalar(db_url, incident) == 2
        assert scalar(db_url, "SELECT count(*) FROM tickets WHERE district = 'futian'") == 1
    finally:
        gw.terminate()
        gw.wait(30)
