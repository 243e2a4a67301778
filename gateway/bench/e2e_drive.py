"""Plays a ``bench_e2e_plan.Plan`` in real time against the broker and the Open311 API.

Every device reports once a second on the tick (QoS 1, MQTT v5, as SPEC §2 devices do): sensors
their readings, robots and drones their telemetry and position, drones a patrol frame. The
frames are rendered before the clock starts (``render_frames``), so the load generator does not
take the CPU the platform is measured on. A planted incident's first observable sign is the
moment its first message is handed to the client (the breach reading, the robot's event, the
first frame that shows the object) or its citizen report is POSTed; ``Driver.first_sign`` keeps
those ``time.monotonic()`` readings.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties

from devices.geography import LatLon
from devices.topics import Channel, Kind, Topic
from gateway.bench.e2e_plan import (
    DRONE_ALT_M,
    DRONE_SPEED_M_S,
    HOLD_S,
    SENSOR_NORMAL,
    Incident,
    Plan,
    drone_position,
    in_footprint,
)
from simulators.camera import FRAME_RADIUS_M, capture, frame_meta, patrol_hfov

Frames = dict[tuple[str, int], tuple[bytes, list[str]]]  # (drone, tick) -> (jpeg, incidents in view)


def render_frames(plan: Plan) -> Frames:
    """Every patrol frame of the run, with the planted objects each one shows."""
    from devices.geography import distance_m

    hfov = patrol_hfov(DRONE_ALT_M)
    objects = [i for i in plan.incidents if i.source == "vision"]
    out: Frames = {}
    for drone in plan.of_kind("drone"):
        for tick in range(int(plan.duration_s) + 1):
            at = drone_position(drone.spot, tick)
            meta = frame_meta(datetime.now(UTC), "render", at, DRONE_ALT_M, 0.0, hfov)
            near = [i for i in objects if i.device_id == drone.device_id
                    and distance_m(at.lat, at.lon, i.spot.lat, i.spot.lon) <= FRAME_RADIUS_M]
            jpeg = capture(meta, [(str(i.label), i.spot.lat, i.spot.lon) for i in near], seed=tick)
            out[(drone.device_id, tick)] = (jpeg, [i.incident_id for i in near if in_footprint(at, i.spot)])
    return out


class Driver:
    def __init__(self, plan: Plan, mqtt_port: int, api_url: str, api_token: str, frames: Frames,
                 run_tag: str) -> None:
        self.plan = plan
        self.api_url = api_url
        self.api_token = api_token
        self.frames = frames
        self.tag = run_tag
        self.first_sign: dict[str, float] = {}
        self.first_sign_wall: dict[str, datetime] = {}  # the same moments, to compare with database times
        self.started_at = datetime.now(UTC)
        self.request_ids: dict[str, str] = {}  # citizen incident -> Open311 service_request_id
        self.errors: list[str] = []
        self.published = 0
        self._acked = 0
        self._seq = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"e2e-devices-{run_tag}",
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(1000)
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", mqtt_port)
        self.client.loop_start()
        self._posts = ThreadPoolExecutor(max_workers=2, thread_name_prefix="open311")

    def _on_publish(self, *_args: object) -> None:
        with self._lock:
            self._acked += 1

    def _send(self, district: str, kind: str, device_id: str, channel: Channel, payload: bytes,
              props: list[tuple[str, str]] | None = None, retain: bool = False) -> None:
        properties = None
        if props:
            properties = Properties(mqtt.PacketTypes.PUBLISH)
            properties.UserProperty = props
        topic = Topic(district, Kind(kind), device_id, channel).render()
        self.client.publish(topic, payload, qos=1, retain=retain, properties=properties)
        self.published += 1

    def _msg_id(self) -> str:
        self._seq += 1
        return f"{self.tag}-{self._seq}"

    def _json(self, doc: dict[str, Any]) -> bytes:
        return json.dumps({"ts": datetime.now(UTC).isoformat(), "msg_id": self._msg_id(), **doc}).encode()

    def announce(self) -> None:
        """Retained status with each device's position (fixed sensors say where they are)."""
        for d in self.plan.devices:
            pos = {"lat": d.spot.lat, "lon": d.spot.lon}
            self._send(d.district, d.kind, d.device_id, Channel.STATUS,
                       self._json({"state": "online", "battery_pct": 90.0, "position": pos}), retain=True)

    def _mark(self, incident_id: str) -> None:
        if incident_id not in self.first_sign:
            self.first_sign[incident_id] = time.monotonic()
            self.first_sign_wall[incident_id] = datetime.now(UTC)

    def _tick(self, t: int) -> None:
        planted = {i.device_id: i for i in self.plan.incidents
                   if i.source == "sensor" and i.at_s <= t < i.at_s + HOLD_S}
        for d in self.plan.devices:
            if d.kind == "sensor":
                inc = planted.get(d.device_id)
                metrics = {**SENSOR_NORMAL, **(inc.readings if inc else {})}
                if inc is not None:
                    self._mark(inc.incident_id)
                self._send(d.district, d.kind, d.device_id, Channel.TELEMETRY, self._json({"metrics": metrics}))
            elif d.kind == "robot":
                pos = {"lat": d.spot.lat, "lon": d.spot.lon}
                self._send(d.district, d.kind, d.device_id, Channel.TELEMETRY, self._json(
                    {"metrics": {"battery_pct": 80.0, "speed_m_s": 0.0}, "position": pos}))
            else:
                self._drone_tick(d.district, d.device_id, d.spot, t)
        for inc in self.plan.incidents:
            if inc.at_s == t and inc.source == "robot":
                self._mark(inc.incident_id)
                self._send(inc.district, "robot", str(inc.device_id), Channel.EVENT, self._json(
                    {"label": inc.label, "text": inc.text, "position": {"lat": inc.spot.lat, "lon": inc.spot.lon}}))
            elif inc.at_s == t and inc.source == "citizen":
                self._posts.submit(self._report, inc)

    def _drone_tick(self, district: str, device_id: str, start: LatLon, t: int) -> None:
        at = drone_position(start, t)
        pos = {"lat": at.lat, "lon": at.lon, "alt_m": DRONE_ALT_M}
        self._send(district, "drone", device_id, Channel.TELEMETRY, self._json({"metrics": {
            "battery_pct": 85.0, "altitude_m": DRONE_ALT_M, "speed_m_s": DRONE_SPEED_M_S, "heading_deg": 0.0},
            "position": pos}))
        jpeg, shown = self.frames[(device_id, t)]
        meta = frame_meta(datetime.now(UTC), self._msg_id(), at, DRONE_ALT_M, 0.0, patrol_hfov(DRONE_ALT_M))
        for incident_id in shown:
            self._mark(incident_id)
        self._send(district, "drone", device_id, Channel.FRAME, jpeg, props=meta.to_user_properties())

    def _report(self, inc: Incident) -> None:
        form = {"service_code": str(inc.service_code), "description": str(inc.text),
                "lat": f"{inc.spot.lat:.6f}", "long": f"{inc.spot.lon:.6f}"}
        self._mark(inc.incident_id)
        try:
            r = httpx.post(f"{self.api_url}/open311/v2/requests.json", data=form, timeout=10.0,
                           headers={"Authorization": f"Bearer {self.api_token}"})
        except httpx.HTTPError as err:
            self.errors.append(f"{inc.incident_id}: POST failed: {err}")
            return
        if r.status_code != 201:
            self.errors.append(f"{inc.incident_id}: POST answered {r.status_code} {r.text[:200]}")
            return
        self.request_ids[inc.incident_id] = r.json()[0]["service_request_id"]

    def run(self, progress: Callable[[str], None] | None = None) -> None:
        """Play the whole plan; returns after the last tick (citizen POSTs finished too)."""
        start = time.monotonic()
        self.started_at = datetime.now(UTC)
        for t in range(int(self.plan.duration_s) + 1):
            delay = start + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if progress and t == int(self.plan.quiet_s):
                progress(f"quiet control over at {t} s; planting {len(self.plan.incidents)} incidents")
            self._tick(t)
        self._posts.shutdown(wait=True)

    def close(self, timeout_s: float = 30.0) -> int:
        """Wait for the broker's PUBACKs; returns how many messages were never acknowledged."""
        deadline = time.monotonic() + timeout_s
        while self._acked < self.published and time.monotonic() < deadline:
            time.sleep(0.05)
        self.client.loop_stop()
        self.client.disconnect()
        return self.published - self._acked
