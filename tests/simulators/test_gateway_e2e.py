"""Fleet -> Mosquitto -> gateway -> TimescaleDB: every simulated value becomes one row, in
JSON and in ROS 2 encoding, and nothing the fleet sends is dead-lettered."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.local_services import Mosquitto
from simulators.fleet import run_fleet
from tests.helpers import scalar, start_gateway, wait_for, wait_gateway_subscribed

from .fleet_util import run_tag, small


@pytest.mark.parametrize("protocol", ["json", "ros2"])
def test_every_published_value_is_stored_once(broker: Mosquitto, db_url: str, tmp_path: Path,
                                               protocol: str) -> None:
    tag = run_tag()
    gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id=f"gw-{tag}")
    try:
        wait_gateway_subscribed(db_url, broker.port)
        report = run_fleet(small(sensors=21, robots=2, drones=1, rate=5.0, duration_s=12.0,
                                 run_id=tag, protocol=protocol, scenario="city_mix"),
                           broker.url)
        assert report.unacked == 0 and report.events == 1

        def count(table: str) -> int:
            return scalar(db_url, f"SELECT count(*) FROM {table} WHERE msg_id LIKE '%-{tag}-%'")

        assert wait_for(lambda: count("telemetry") >= report.telemetry_values, 30)
        assert count("telemetry") == report.telemetry_values
        moving = sum(c.telemetry for d, c in report.per_device.items() if d.startswith(("robot-", "drone-")))
        assert moving == 3 * 60
        assert wait_for(lambda: count("events") == report.events, 10)
        assert wait_for(lambda: count("device_status") == report.statuses, 10)
        # Every status says where its device is (fixed sensors say it only there): one fix each.
        assert wait_for(lambda: count("positions") >= moving + report.statuses, 10)
        assert count("positions") == moving + report.statuses
        assert scalar(db_url, f"SELECT count(*) FROM dead_letters "
                              f"WHERE payload_excerpt LIKE '%{tag}%'") == 0
    finally:
        gw.terminate()
        gw.wait(20)
