"""The issue's acceptance test: simulators publish through real Mosquitto while the gateway
is SIGKILLed and restarted halfway; afterwards TimescaleDB holds every telemetry value the
fleet published, once."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from gateway.local_services import Mosquitto
from simulators.fleet import FleetReport, run_fleet
from tests.helpers import scalar, start_gateway, wait_for, wait_gateway_subscribed
from tests.simulators.fleet_util import run_tag, small


def test_fleet_through_gateway_sigkill_loses_nothing(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    tag = run_tag()
    log = tmp_path / "gw.log"
    gw = start_gateway(broker.url, db_url, log, client_id=f"gw-kill-{tag}")
    reports: list[FleetReport] = []
    try:
        wait_gateway_subscribed(db_url, broker.port)
        config = small(sensors=200, robots=4, drones=2, rate=4.0, duration_s=16.0, run_id=tag, pace=True)
        fleet = threading.Thread(target=lambda: reports.append(run_fleet(config, broker.url)))
        fleet.start()

        def stored() -> int:
            return scalar(db_url, f"SELECT count(*) FROM telemetry WHERE msg_id LIKE '%-{tag}-%'")

        assert wait_for(lambda: stored() > 2000, 30)
        time.sleep(2)
        gw.send_signal(signal.SIGKILL)
        gw.wait(10)
        at_kill = stored()
        time.sleep(1.5)  # the fleet keeps publishing while no gateway runs
        gw = start_gateway(broker.url, db_url, log, client_id=f"gw-kill-{tag}")
        fleet.join(120)
        report = reports[0]
        assert report.unacked == 0
        assert wait_for(lambda: stored() >= report.telemetry_values, 60), (stored(), report.telemetry_values)
        assert at_kill < report.telemetry_values
        assert stored() == report.telemetry_values
        distinct = scalar(db_url, "SELECT count(DISTINCT (device_id, msg_id)) FROM telemetry"
                                  f" WHERE msg_id LIKE '%-{tag}-%'")
        assert distinct == report.telemetry_messages
    finally:
        gw.terminate()
        gw.wait(20)
