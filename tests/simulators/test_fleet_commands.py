"""The fleet ``run_fleet`` runs obeys ``.../cmd`` over a real broker: a drone sent to inspect planted
garbage acks, flies there, hovers at 20 m, publishes camera frames (JPEG + SPEC §2 user properties)
that show the garbage, reports its detection and answers ``task_done`` with its confidence; over an
empty spot it answers 0. Commands outside its capabilities, a second one while busy and one past
its deadline are refused with ``task_failed``; a resend is acknowledged again, not run twice."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from citypack.cached import geography
from devices.geography import LatLon, distance_m, offset
from devices.payloads import Action, Command, FrameMeta, Position
from gateway.local_services import Mosquitto
from simulators.fleet import FleetReport, run_fleet

from .fleet_util import run_tag, small, wait_for

CENTRE = geography()["futian"].center
GARBAGE = offset(CENTRE.lat, CENTRE.lon, 120.0, -80.0)
EMPTY = offset(CENTRE.lat, CENTRE.lon, -600.0, 400.0)
SCENARIO = f"""\
name: garbage-for-drones
random_events: false
incidents:
  - type: visual
    at_s: 0
    duration_s: 3600
    label: garbage
    location: {{lat: {GARBAGE.lat}, lon: {GARBAGE.lon}}}
"""
DRONE = "city/futian/drone/drone-01"
ROBOT = "city/futian/robot/robot-01"


@dataclass(frozen=True)
class Got:
    at: float
    topic: str
    payload: bytes
    props: dict[str, str]

    def json(self) -> dict[str, object]:
        return dict(json.loads(self.payload))


class Listener:
    """Everything the two devices publish during this run (msg ids carry the run tag)."""

    def __init__(self, port: int, tag: str) -> None:
        self.tag, self.got, self._lock = tag, list[Got](), threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"lis-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        for base in (DRONE, ROBOT):
            self.client.subscribe(f"{base}/#", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        props = dict(getattr(msg.properties, "UserProperty", []) or [])
        if self.tag in props.get("msg_id", "") or f"-{self.tag}-".encode() in msg.payload:
            with self._lock:
                self.got.append(Got(time.monotonic(), msg.topic, bytes(msg.payload), props))

    def events(self, base: str, cmd_id: str | None = None) -> list[dict[str, object]]:
        with self._lock:
            out = [g.json() for g in self.got if g.topic == f"{base}/event"]
        return [e for e in out if cmd_id is None or e.get("cmd_id") == cmd_id]

    def frames(self) -> list[Got]:
        with self._lock:
            return [g for g in self.got if g.topic == f"{DRONE}/frame"]

    def command(self, base: str, cid: str, action: Action, where: Position | None = None,
                deadline_s: float = 300.0) -> None:
        cmd = Command(ts=datetime.now(UTC), msg_id=cid, action=action, position=where,
                      deadline=datetime.now(UTC) + timedelta(seconds=deadline_s))
        self.client.publish(f"{base}/cmd", cmd.to_json(), qos=1).wait_for_publish(5)

    def labels(self, base: str, cid: str) -> list[str]:
        return [str(e["label"]) for e in self.events(base, cid)]


def _pos(p: LatLon) -> Position:
    return Position(lat=p.lat, lon=p.lon)


def test_fleet_drone_inspects_with_frames_and_devices_refuse_what_they_cannot_do(
        broker: Mosquitto, tmp_path: Path) -> None:
    tag = run_tag()
    scenario = tmp_path / "garbage.yaml"
    scenario.write_text(SCENARIO)
    cfg = small(sensors=0, robots=1, drones=1, rate=2.0, duration_s=300.0, pace=True, run_id=tag,
                scenario=scenario, speed_factor=20.0)
    lis = Listener(broker.port, tag)
    stop = threading.Event()
    reports: list[FleetReport] = []
    fleet = threading.Thread(target=lambda: reports.append(run_fleet(cfg, broker.url, stop=stop)), daemon=True)
    fleet.start()
    try:
        assert wait_for(lambda: any(g.topic == f"{DRONE}/telemetry" for g in list(lis.got)), 20)
        # The platform resends an unacknowledged command; here until the subscription is surely live.
        for _ in range(10):
            lis.command(DRONE, "c-clean", Action.CLEAN, _pos(GARBAGE))
            if wait_for(lambda: lis.labels(DRONE, "c-clean"), 1.0):
                break
        assert lis.labels(DRONE, "c-clean")[0] == "task_failed"  # a drone cannot clean

        lis.command(DRONE, "c-look", Action.INSPECT, _pos(GARBAGE))
        assert wait_for(lambda: "cmd_ack" in lis.labels(DRONE, "c-look"), 10)
        lis.command(DRONE, "c-second", Action.INSPECT, _pos(EMPTY))
        lis.command(DRONE, "c-look", Action.INSPECT, _pos(GARBAGE))  # a resend of the running one
        assert wait_for(lambda: "task_done" in lis.labels(DRONE, "c-look"), 30), lis.events(DRONE)
        [second] = lis.events(DRONE, "c-second")
        assert second["label"] == "task_failed" and second["text"] == "busy with c-look"

        lis.command(DRONE, "c-empty", Action.INSPECT, _pos(EMPTY))
        assert wait_for(lambda: "task_done" in lis.labels(DRONE, "c-empty"), 30), lis.events(DRONE)
        lis.command(ROBOT, "c-late", Action.CLEAN, _pos(GARBAGE), deadline_s=-5.0)
        lis.command(ROBOT, "c-fly", Action.INSPECT, _pos(GARBAGE))
        assert wait_for(lambda: lis.labels(ROBOT, "c-late") and lis.labels(ROBOT, "c-fly"), 10)
    finally:
        stop.set()
        fleet.join(30)
        lis.client.loop_stop()
        lis.client.disconnect()
    [report] = reports
    assert report.unacked == 0 and report.rejected == 0

    look = lis.events(DRONE, "c-look")
    labels = [str(e["label"]) for e in look]
    assert labels[0] == "cmd_ack" and labels.count("cmd_ack") == 2  # the resend was acked again, not rerun
    assert [lb for lb in labels if lb != "cmd_ack"] == ["task_progress"] * 3 + ["task_done"], look
    done = look[-1]
    assert isinstance(done["value"], float) and 0.8 <= done["value"] <= 0.95 and "garbage" in str(done["text"])
    [seen] = [e for e in lis.events(DRONE) if e["label"] == "garbage"]  # its detection, before the answer
    assert seen["confidence"] == done["value"]
    assert distance_m(GARBAGE.lat, GARBAGE.lon, seen["position"]["lat"], seen["position"]["lon"]) < 2.0  # type: ignore[index]

    empty = lis.events(DRONE, "c-empty")[-1]
    assert empty["label"] == "task_done" and empty["value"] == 0.0 and "not seen" in str(empty["text"])
    assert lis.labels(ROBOT, "c-late") == ["task_failed"] and "deadline" in str(lis.events(ROBOT, "c-late")[0]["text"])
    assert lis.labels(ROBOT, "c-fly") == ["task_failed"]  # a robot cannot inspect

    frames = lis.frames()
    assert len(frames) == 6  # three per inspection hover, nothing while flying or patrolling
    for f in frames[:3]:
        meta = FrameMeta.from_user_properties(list(f.props.items()))
        assert (meta.alt_m, meta.pitch_deg, meta.hfov_deg) == (20.0, -90.0, 70.0)
        assert distance_m(meta.lat, meta.lon, GARBAGE.lat, GARBAGE.lon) < 2.0
        image = cv2.imdecode(np.frombuffer(f.payload, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape == (480, 640, 3)
    # What vision makes of them: the committed detector finds the garbage over the garbage and nothing
    # confident over the empty spot (the pose is the one it handles best, ~4.4 cm/px).
    pytest.importorskip("ultralytics")
    from gateway.vision_link.sink import DEFAULT_WEIGHTS
    from vision.detector import DetectorConfig, create_detector

    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("urban weights not built")
    detector = create_detector(DetectorConfig(weights=DEFAULT_WEIGHTS, imgsz=640, conf=0.25))
    images = [cv2.imdecode(np.frombuffer(f.payload, np.uint8), cv2.IMREAD_COLOR) for f in frames]
    found = detector.detect(images)
    assert sum(any(d.label == "garbage" for d in dets) for dets in found[:3]) >= 2, found[:3]
    assert [d for dets in found[3:] for d in dets if d.confidence >= 0.5] == [], found[3:]
