"""A database outage while incidents happen: sensor threshold breaches and robot reports
published while TimescaleDB is down still become observations and tickets, each exactly
once, after it returns — with no traffic after the outage to carry them along, and also when
the gateway is SIGKILLed in the middle of the outage (what it had journaled and acknowledged
must not depend on memory)."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from gateway.local_services import Mosquitto, Postgres
from gateway.store.migrate import migrate
from tests.helpers import Publisher, scalar, start_gateway, wait_for, wait_gateway_subscribed

OUTAGE_S = 25.0
BASE_LAT, BASE_LON = 22.50, 114.00


@dataclass(frozen=True)
class Planted:
    """One incident: a device message that must become exactly one observation and one ticket."""

    district: str
    kind: str
    device_id: str
    observation_id: str
    category: str | None  # None: whatever the rules say (robot reports), only counted
    topic: str
    payload: bytes


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _position(i: int) -> dict[str, float]:
    # 2 km apart: no two incidents correlate into one.
    return {"lat": BASE_LAT + 0.02 * i, "lon": BASE_LON + 0.02 * i}


def sensor_breach(i: int, metric: str, normal: float, breach: float, category: str
                  ) -> tuple[list[tuple[str, bytes]], Planted]:
    district, dev = f"out{i}", f"pipe-s{i:02d}"
    topic = f"city/{district}/sensor/{dev}/telemetry"
    msgs = []
    for n, value in enumerate((normal, breach)):
        body = {"ts": _now(), "msg_id": f"m{n}", "metrics": {metric: value}, "position": _position(i)}
        msgs.append((topic, json.dumps(body).encode()))
    return msgs, Planted(district, "sensor", dev, f"{dev}:m1:{metric}", category, topic, msgs[-1][1])


def robot_report(i: int, label: str, text: str) -> tuple[list[tuple[str, bytes]], Planted]:
    district, dev = f"out{i}", f"pipe-r{i:02d}"
    topic = f"city/{district}/robot/{dev}/event"
    body = {"ts": _now(), "msg_id": "e1", "label": label, "text": text, "position": _position(i)}
    msg = (topic, json.dumps(body).encode())
    return [msg], Planted(district, "robot", dev, f"{dev}:e1", None, topic, msg[1])


def planted_traffic() -> list[tuple[list[tuple[str, bytes]], Planted]]:
    return [
        sensor_breach(0, "water_level_cm", 2.0, 45.0, "flood"),
        sensor_breach(1, "smoke_obscuration_pct", 0.5, 12.0, "fire"),
        sensor_breach(2, "pm25", 30.0, 200.0, "air_quality"),
        sensor_breach(3, "manhole_tilt_deg", 1.0, 35.0, "infrastructure"),
        sensor_breach(4, "noise_db", 55.0, 92.0, "noise"),
        sensor_breach(5, "gas_lel_pct", 0.0, 12.0, "fire"),
        robot_report(6, "spill", "oil on the walkway"),
        robot_report(7, "obstacle", "fallen branch across the footpath"),
        robot_report(8, "spill", "paint spilled at the crossing"),
    ]


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(query).fetchall())


@pytest.mark.parametrize("crash", [False, True], ids=["gateway-stays", "gateway-sigkilled"])
def test_incidents_during_database_outage_become_tickets_once(broker: Mosquitto, services_root: Path,
                                                             tmp_path: Path, crash: bool) -> None:
    pg = Postgres(services_root / f"outage-pipe-pg-{crash}").start()  # its own cluster: this test stops it
    migrate(pg.url)
    client_id = f"gw-outage-pipe-{crash}"
    gw = start_gateway(broker.url, pg.url, tmp_path / "gw.log", client_id=client_id)
    try:
        wait_gateway_subscribed(pg.url, broker.port)
        traffic = planted_traffic()
        pub = Publisher(broker.port, "outage-pipe-pub")
        pg.stop()
        down_at = time.monotonic()
        time.sleep(4)  # past spill_after_s: the gateway journals and acknowledges
        # One incident every ~2 s, so they meet the writer, the observation extractor and the
        # triage service in different states of their retry loops.
        for n, (msgs, _planted) in enumerate(traffic):
            if crash and n == len(traffic) // 2:
                # Half the incidents are journaled and acknowledged; the rest wait in the broker.
                time.sleep(1)
                gw.send_signal(signal.SIGKILL)
                gw.wait(20)
            for topic, payload in msgs:
                pub.publish(topic, payload)
            time.sleep(2)
        pub.close()
        assert pub.acked == pub.sent  # broker (and gateway) took every message while the database was down
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        pg.start()
        back_at = time.monotonic()
        if crash:
            gw = start_gateway(broker.url, pg.url, tmp_path / "gw.log", client_id=client_id)
        # Nothing is published from here on: what happened during the outage must reach the
        # database by itself, not ride on the next message.
        planted = [p for _m, p in traffic]
        want = {p.observation_id for p in planted}
        obs_q = "SELECT observation_id, district FROM observations WHERE device_id LIKE 'pipe-%'"
        assert wait_for(lambda: {r[0] for r in rows(pg.url, obs_q)} == want, 90, 1.0), (
            sorted(str(r[0]) for r in rows(pg.url, obs_q)), sorted(want))
        observed_s = time.monotonic() - back_at
        tickets_q = ("SELECT t.incident_id, t.category, o.observation_id FROM tickets t"
                     " JOIN observations o ON o.incident_id = t.incident_id WHERE o.device_id LIKE 'pipe-%'")
        assert wait_for(lambda: len(rows(pg.url, tickets_q)) == len(planted), 60, 1.0), rows(pg.url, tickets_q)
        ticketed_s = time.monotonic() - back_at
        time.sleep(3)  # any late duplicate from a retry loop would land now
        # Each observation once, in one incident with one ticket of the expected category.
        assert sorted(str(r[0]) for r in rows(pg.url, obs_q)) == sorted(want)
        # ... and each knows where it happened (the device registry did not survive in memory only).
        assert {(str(r[0]), r[1]) for r in rows(pg.url, obs_q)} == {(p.observation_id, p.district) for p in planted}
        assert scalar(pg.url, "SELECT count(*) FROM triage_inbox") == 0
        by_obs = {str(r[2]): (str(r[0]), str(r[1])) for r in rows(pg.url, tickets_q)}
        assert len({inc for inc, _cat in by_obs.values()}) == len(planted)
        for p in planted:
            if p.category is not None:
                assert by_obs[p.observation_id][1] == p.category, (p, by_obs[p.observation_id])
        assert scalar(pg.url, "SELECT count(*) FROM tickets") == len(planted)
        assert scalar(pg.url, "SELECT count(*) FROM ticket_history WHERE action = 'created'") == len(planted)
        # The telemetry and events themselves: every message stored once (journal replayed).
        sent = sum(len(m) for m, _p in traffic)
        stored = ("SELECT (SELECT count(*) FROM telemetry WHERE device_id LIKE 'pipe-%')"
                  " + (SELECT count(*) FROM events WHERE device_id LIKE 'pipe-%')")
        assert scalar(pg.url, stored) == sent
        assert not (tmp_path / "data" / "spill" / f"{client_id}.journal").exists()
        print(f"outage {OUTAGE_S:.0f}s, crash={crash}: {len(planted)} incidents during it; observations stored "
              f"{observed_s:.1f}s and tickets {ticketed_s:.1f}s after the database came back")
    finally:
        gw.terminate()
        gw.wait(20)
        pg.destroy()
