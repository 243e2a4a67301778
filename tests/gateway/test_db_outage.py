"""A 30 s database outage during a telemetry stream: the gateway journals to local disk,
reports degraded health, and writes everything once when the database returns."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from gateway.local_services import Mosquitto, Postgres, free_port
from gateway.store.migrate import migrate
from tests.helpers import Publisher, scalar, start_gateway, wait_for, wait_gateway_subscribed

OUTAGE_S = 30.0


def test_database_outage_loses_nothing(broker: Mosquitto, services_root: Path, tmp_path: Path) -> None:
    pg = Postgres(services_root / "outage-pg").start()  # its own cluster: this test stops it
    migrate(pg.url)
    port = free_port()
    gw = start_gateway(broker.url, pg.url, tmp_path / "gw.log", client_id="gw-outage", http_port=port)
    health: list[str] = []
    try:
        wait_gateway_subscribed(pg.url, broker.port)
        pub = Publisher(broker.port, "outage-pub")
        stop = threading.Event()

        def stream() -> None:
            i = 0
            while not stop.is_set():
                for _ in range(50):
                    payload = json.dumps({"ts": datetime.now(UTC).isoformat(), "msg_id": f"o{i}",
                                          "metrics": {"water_level_cm": float(i % 400)}})
                    pub.publish(f"city/luohu/sensor/wl-{i % 20:04d}/telemetry", payload.encode())
                    i += 1
                time.sleep(0.1)  # ~500 msg/s

        streamer = threading.Thread(target=stream)
        streamer.start()
        time.sleep(3)
        pg.stop()
        down_at = time.monotonic()
        while time.monotonic() - down_at < OUTAGE_S:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
                health.append(body["status"])
            except httpx.HTTPError:
                health.append("unreachable")
            time.sleep(1)
        pg.start()
        time.sleep(3)
        stop.set()
        streamer.join()
        pub.close()
        assert pub.acked == pub.sent
        query = "SELECT count(DISTINCT msg_id) FROM telemetry WHERE device_id LIKE 'wl-%'"
        assert wait_for(lambda: scalar(pg.url, query) == pub.sent, 60), (scalar(pg.url, query), pub.sent)
        assert scalar(pg.url, "SELECT count(*) FROM telemetry WHERE device_id LIKE 'wl-%'") == pub.sent
        assert "degraded" in health and "unreachable" not in health
        # The API's connection pool retries with exponential backoff (psycopg_pool), so after a
        # 30 s outage its next attempt can come ~30 s after the database is back.
        assert wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["status"] == "ok", 60)
        journal = tmp_path / "data" / "spill" / "gw-outage.journal"
        assert not journal.exists()  # replayed and cleared
        print(f"outage {OUTAGE_S:.0f}s: published {pub.sent}, stored {scalar(pg.url, query)}")
    finally:
        gw.terminate()
        gw.wait(20)
        pg.destroy()
