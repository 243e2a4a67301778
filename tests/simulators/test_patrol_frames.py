"""Patrol camera end to end: a drone on patrol over the drone_survey scenario streams frames over the
real broker into a gateway with vision on, and each planted incident becomes an observation.

The fleet runs unpaced (the simulated minutes take seconds); the gateway's frame queue is made
large enough that none is dropped, so every frame the drone sent must be processed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.geography import distance_m
from gateway.local_services import Mosquitto, free_port
from gateway.vision_link.sink import DEFAULT_WEIGHTS
from simulators.fleet import run_fleet
from simulators.truth import read_truth
from tests.helpers import scrape, start_gateway, wait_for, wait_gateway_subscribed
from tests.simulators.fleet_util import run_tag, small

pytest.importorskip("ultralytics")
pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="urban weights not built")

SCENARIO = Path(__file__).resolve().parents[2] / "simulators" / "scenarios" / "drone_survey.yaml"
DURATION_S = 125.0  # climb to cruise (~35 s), then ~760 m at ~10 m/s over the eight incidents


class FrameCounter:
    """Counts this run's frames on the broker (msg_id carries the run id, in the user properties)."""

    def __init__(self, port: int, run_id: str) -> None:
        self.tag, self.count = f"-{run_id}-", 0
        self._lock, self._subscribed = threading.Lock(), threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"frames-{run_id}", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("city/+/drone/+/frame", qos=1)
        self.client.loop_start()
        assert self._subscribed.wait(10), "no SUBACK"

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        props = dict(getattr(msg.properties, "UserProperty", []) or [])
        if self.tag in props.get("msg_id", "") and msg.payload[:2] == b"\xff\xd8":  # a JPEG of this run
            with self._lock:
                self.count += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_patrol_frames_become_located_observations(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    port = free_port()
    gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id=f"gw-patrol-{run_tag()}",
                       http_port=port, extra_env={"URBANOPS_VISION_ENABLED": "true",
                                                  "URBANOPS_VISION_QUEUE_SIZE": "1000"})
    base = f"http://127.0.0.1:{port}"
    run_id = run_tag()
    counter = FrameCounter(broker.port, run_id)
    try:
        wait_gateway_subscribed(db_url, broker.port)
        assert wait_for(lambda: scrape(base).get("urbanops_vision_ready") == 1, 120, 1.0)
        config = small(sensors=0, robots=0, drones=1, rate=1.0, duration_s=DURATION_S, frame_interval_s=1.0,
                       scenario=SCENARIO, truth_path=tmp_path / "truth.jsonl", run_id=run_id)
        report = run_fleet(config, broker.url)
        assert report.unacked == 0 and report.rejected == 0
        # About one frame a second once at cruise altitude: the drone did patrol with its camera on.
        assert wait_for(lambda: counter.count >= 0.6 * DURATION_S, 10), counter.count
        # The counter may still be receiving: wait until the gateway has processed exactly what the
        # broker carried (both only grow; the gateway cannot process a frame the broker did not carry).
        assert wait_for(lambda: scrape(base).get("urbanops_vision_processed", 0) == counter.count, 90, 1.0), (
            scrape(base), counter.count)
        time.sleep(2.0)
        metrics = scrape(base)
        assert metrics["urbanops_vision_processed"] == counter.count and metrics.get("urbanops_vision_dropped", 0) == 0
        truth = read_truth(tmp_path / "truth.jsonl")
        assert sorted(r.label for r in truth) == sorted(
            ["smoke", "garbage", "pothole", "fallen_tree", "person_down", "flooding", "crowd", "illegal_parking"])
        with psycopg.connect(db_url) as conn:
            got = conn.execute("SELECT label, lat, lon FROM observations WHERE source = 'vision'"
                               " AND device_id = 'drone-01'").fetchall()
        missed = [r.label for r in truth
                  if not any(label == r.label and distance_m(lat, lon, r.lat, r.lon) <= 50 for label, lat, lon in got)]
        assert not missed, (missed, got)
    finally:
        counter.close()
        gw.terminate()
        gw.wait(30)
