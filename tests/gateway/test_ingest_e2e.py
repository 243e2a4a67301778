"""Ingest end to end with the real broker and real TimescaleDB."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.local_services import Mosquitto
from tests.gateway.test_ingest_unit import MALFORMED
from tests.helpers import Publisher, scalar, start_gateway, wait_for, wait_gateway_subscribed


def good(i: int, device: int, prefix: str = "aq") -> tuple[str, bytes]:
    payload = json.dumps({"ts": datetime.now(UTC).isoformat(), "msg_id": f"g{i}",
                          "metrics": {"pm25": float(i % 97), "noise_db": 50.0}})
    # Device ids unique to the test: retained statuses of earlier tests' fleets on the shared
    # broker register their devices too.
    return f"city/futian/sensor/{prefix}-{device:04d}/telemetry", payload.encode()


def test_bad_input_dead_lettered_while_good_flows(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id="gw-bad")
    try:
        wait_gateway_subscribed(db_url, broker.port)
        pub = Publisher(broker.port)
        n_good = 0
        for round_ in range(3):
            for j, (_, topic, payload, props, _) in enumerate(MALFORMED):
                data = payload.encode() if isinstance(payload, str) else payload
                pub.publish(topic, data, props)
                t, p = good(round_ * 1000 + j, j % 5)
                pub.publish(t, p)
                n_good += 1
        pub.close()
        expected_dead = 3 * len(MALFORMED)
        assert wait_for(lambda: scalar(db_url, "SELECT count(*) FROM dead_letters") >= expected_dead, 30)
        assert wait_for(lambda: scalar(
            db_url, "SELECT count(DISTINCT msg_id) FROM telemetry WHERE device_id LIKE 'aq-%'") == n_good, 30)
        assert scalar(db_url, "SELECT count(*) FROM dead_letters") == expected_dead
        assert scalar(db_url, "SELECT count(*) FROM dead_letters WHERE reason = '' OR reason IS NULL") == 0
        assert scalar(db_url, "SELECT count(DISTINCT split_part(reason, ':', 1)) FROM dead_letters") >= 7
    finally:
        gw.terminate()
        gw.wait(20)


def test_sigkill_and_restart_loses_nothing(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    n = 20_000
    gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id="gw-kill")
    try:
        wait_gateway_subscribed(db_url, broker.port)
        pub = Publisher(broker.port, "kill-pub")
        killed = False
        for i in range(n):
            t, p = good(i, i % 50, "ks")
            pub.publish(t, p)
            if i % 500 == 0:
                time.sleep(0.05)  # ~6-8k msg/s: the kill lands mid-stream
            if i == n // 2:
                wait_for(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") > 1000, 30)
                gw.send_signal(signal.SIGKILL)
                gw.wait(10)
                killed = True
                gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id="gw-kill")
        pub.close()
        assert killed and pub.acked == n
        query = "SELECT count(DISTINCT msg_id) FROM telemetry WHERE device_id LIKE 'ks-%'"
        assert wait_for(lambda: scalar(db_url, query) == n, 120), scalar(db_url, query)
        rows = scalar(db_url, "SELECT count(*) FROM telemetry WHERE device_id LIKE 'ks-%'")
        assert rows == 2 * n  # two metrics per message, none stored twice
        devices = "SELECT count(*) FROM devices WHERE device_id LIKE 'ks-%'"
        assert wait_for(lambda: scalar(db_url, devices) == 50, 10), scalar(db_url, devices)
    finally:
        gw.terminate()
        gw.wait(20)


def test_committed_rows_always_have_their_device_listed(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    """SIGKILL right after new devices' rows commit, twice: every device with rows is listed at
    once, without waiting for it to publish again (first sight is registered in the row's
    transaction, not by the once-a-second flush)."""
    gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id="gw-registry")
    try:
        for round_ in range(2):
            wait_gateway_subscribed(db_url, broker.port)
            pub = Publisher(broker.port, f"registry-pub-{round_}")
            prefix = f"cr{round_}"
            # A device already known makes the registry flush just before the new devices
            # commit: the kill then lands inside the flush's one-second wait.
            for i in range(200):
                pub.publish(*good(9000 + i, 99, prefix))
            warm = f"SELECT count(*) FROM telemetry WHERE device_id = '{prefix}-0099'"
            assert wait_for(lambda q=warm: scalar(db_url, q) > 0, 30)  # type: ignore[misc]
            for k in range(8):
                for i in range(50):
                    pub.publish(*good(k * 50 + i, k, prefix))
            pub.close()
            new = (f"SELECT count(DISTINCT device_id) FROM telemetry WHERE device_id LIKE '{prefix}-000%'")
            assert wait_for(lambda q=new: scalar(db_url, q) == 8, 30, step_s=0.02)  # type: ignore[misc]
            gw.send_signal(signal.SIGKILL)
            gw.wait(10)
            with_rows = ("SELECT count(DISTINCT device_id) FROM telemetry"
                         f" WHERE device_id LIKE '{prefix}-%'")
            unlisted = (f"SELECT count(DISTINCT t.device_id) FROM telemetry t WHERE t.device_id LIKE '{prefix}-%'"
                        " AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.device_id = t.device_id)")
            assert scalar(db_url, with_rows) >= 1
            assert scalar(db_url, unlisted) == 0
            gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id="gw-registry")
        query = "SELECT count(*) FROM telemetry WHERE device_id LIKE 'cr%'"
        assert wait_for(lambda: scalar(db_url, query) == 2 * 2 * 600, 60), scalar(db_url, query)  # 2 metrics each
        listed = "SELECT count(*) FROM devices WHERE device_id LIKE 'cr%'"
        assert scalar(db_url, listed) == 18
    finally:
        gw.terminate()
        gw.wait(20)
