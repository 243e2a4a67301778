"""Run a simulated fleet against a broker: ``run_fleet(FleetConfig(...), "mqtt://...")``.

Connections (decided here, documented in simulators/README.md):
- every robot and drone has its own connection, with its last will (retained ``offline``)
  on its status topic, and publishes all its messages there;
- every sensor has a small *presence* connection that only carries its retained status and
  its last will, so each sensor's will works; its telemetry goes over shared *bridge*
  connections (``sensors_per_link`` sensors each), like a field gateway concentrating
  readings, which keeps the hot path on a few sockets.
A kill of the process drops every connection, so the broker publishes every device's will.
Robots and drones also subscribe to their ``cmd`` topic on their own connection and obey
(simulators/obey.py): commands are handed to the devices between publishes, at the fleet's
current time, and their answers, telemetry and camera frames go out like everything else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from devices.encoding import Encoder, JsonEncoder, Publish
from devices.payloads import DeviceState, Status
from devices.topics import Channel, Kind
from simulators.config import FleetConfig
from simulators.device import SimDevice, SimMessage
from simulators.mqtt_link import Link
from simulators.obey import CommandDesk
from simulators.publisher import MqttPublisher, PublisherError
from simulators.report import DeviceCounts, FleetProgress, FleetReport, Tally
from simulators.sim import FleetSim, encode_messages, generate_messages
from simulators.truth import write_truth

__all__ = ["DeviceCounts", "FleetConfig", "FleetError", "FleetProgress", "FleetReport",
           "FleetSim", "encode_messages", "generate_messages", "run_fleet"]

PROGRESS_EVERY_S = 0.25
EARLY_S = 0.01  # paced: what is due within 10 ms goes out in one batch (fewer wake-ups)
FLUSH_TIMEOUT_S = 60.0
_json = JsonEncoder()


class FleetError(RuntimeError):
    """The fleet cannot run (bad protocol, broker unreachable or refusing)."""


def load_encoder(protocol: str) -> Encoder:
    """The encoder of ``--protocol``: ``json`` or ``ros2`` (rosbags imported only when asked for)."""
    if protocol == "json":
        return JsonEncoder()
    if protocol != "ros2":
        raise FleetError(f"unknown protocol {protocol!r} (json, ros2)")
    try:
        from devices.ros2.encoder import Ros2Encoder
    except ImportError as err:
        raise FleetError(f"protocol {protocol!r} is not available here: {err}") from err
    return Ros2Encoder()


class _Presence:
    """A device's retained status on its own connection: the will, and a fresh copy of the
    last status after a reconnect (the will has overwritten it in the meantime)."""

    def __init__(self, device: SimDevice, run_id: str) -> None:
        self.device, self.run_id = device, run_id
        self.last: Status | None = None

    def _status(self, state: DeviceState, tag: str) -> Publish:
        d = self.device
        last = self.last
        msg = Status(ts=datetime.now(UTC), msg_id=f"{d.device_id}-{self.run_id}-{tag}",
                     state=state, battery_pct=last.battery_pct if last else None,
                     firmware=last.firmware if last else None,
                     position=last.position if last else None)
        return _json.encode(d.topics[Channel.STATUS], msg)[0]

    def will(self, n: int) -> Publish:
        return self._status(DeviceState.OFFLINE, f"will{n}")

    def on_connect(self, n: int) -> list[Publish]:
        if n <= 1 or self.last is None:
            return []  # the first online status is part of the message stream
        return [self._status(self.last.state, f"re{n}")]


def _links(pub: MqttPublisher, sim: FleetSim, desk: CommandDesk) -> tuple[dict[str, tuple[Link, Link]],
                                                                          dict[str, _Presence]]:
    """device_id -> (status link, data link), and each device's presence."""
    cmd_topic = {device_id: topic for topic, device_id in desk.topics.items()}
    cfg, run = sim.config, sim.run_id
    out: dict[str, tuple[Link, Link]] = {}
    presence: dict[str, _Presence] = {}
    bridge: Link | None = None
    n_sensors = 0
    for d in sim.devices:
        p = presence[d.device_id] = _Presence(d, run)
        own = pub.add_link(d.device_id, f"{cfg.client_prefix}-{run}-{d.device_id}",
                           will=p.will, on_connect=p.on_connect,
                           subscribe=(cmd_topic[d.device_id],) if d.device_id in cmd_topic else (),
                           on_message=desk.on_message if d.device_id in cmd_topic else None)
        if d.kind is Kind.SENSOR:
            if n_sensors % cfg.sensors_per_link == 0:
                k = n_sensors // cfg.sensors_per_link + 1
                bridge = pub.add_link(f"bridge-{k}", f"{cfg.client_prefix}-{run}-bridge-{k}")
            n_sensors += 1
            assert bridge is not None
            out[d.device_id] = (own, bridge)
        else:
            out[d.device_id] = (own, own)
    return out, presence


def run_fleet(config: FleetConfig, mqtt_url: str, *, stop: threading.Event | None = None,
              progress: Callable[[FleetProgress], None] | None = None) -> FleetReport:
    """Publish the fleet's messages (paced in real time unless ``config.pace`` is False),
    then the offline statuses; wait for every PUBACK; write ground truth if asked.
    Setting ``stop`` ends the run early but cleanly (flush, offline statuses)."""
    encoder = load_encoder(config.protocol)
    sim = FleetSim(config)
    # ``stop`` ends the stream only: the offline statuses and the flush still happen.
    pub = MqttPublisher(mqtt_url, max_inflight=config.max_inflight)
    desk = CommandDesk(sim.devices)
    links, presence = _links(pub, sim, desk)
    tally = Tally()
    try:
        pub.connect(timeout=30.0)
    except PublisherError as err:
        pub.close()
        raise FleetError(str(err)) from err

    def send(msg: SimMessage) -> None:
        status_link, data_link = links[msg.device_id]
        if msg.channel is Channel.STATUS:
            assert isinstance(msg.message, Status)
            presence[msg.device_id].last = msg.message
            link = status_link
        else:
            link = data_link
        for p in encoder.encode(msg.topic, msg.message):
            pub.publish(link, p)
        tally.add(msg)
        device = desk.devices.get(msg.device_id)
        if device is not None and device.frames:
            for topic, meta, jpeg in device.take_frames():
                for p in encoder.encode_frame(topic, meta, jpeg):
                    pub.publish(data_link, p)

    def obey() -> None:
        """Answer the commands that arrived, at the fleet's time now (the wall clock when paced)."""
        if desk.inbox:
            now = max(sim.t, time.monotonic() - wall0) if config.pace else sim.t
            for answer in desk.drain(now):
                send(answer)

    def report_progress(t: float) -> None:
        if progress is not None:
            progress(FleetProgress(t, config.duration_s, time.monotonic() - wall0,
                                   sum(pub.sent.values()), sum(pub.acked.values()),
                                   tally.telemetry, tally.events))

    wall0 = time.monotonic()
    next_progress = wall0
    stopped = False
    t_end = config.duration_s
    try:
        for n, msg in enumerate(sim.messages()):
            if config.pace and msg.t - (time.monotonic() - wall0) > EARLY_S:
                # Ahead of the clock: wait in the network loop (acks, flushes, reconnects).
                while (ahead := msg.t - (time.monotonic() - wall0)) > EARLY_S:
                    if stop is not None and stop.is_set():
                        break
                    pub.poll(min(ahead, 0.05))
                    obey()
            elif n % 128 == 0:
                pub.poll(0.0)  # flat out (or behind): still write and read acks in batches
                obey()
            if stop is not None and stop.is_set():
                stopped, t_end = True, min(config.duration_s, max(sim.t, msg.t))
                break
            send(msg)
            if (now := time.monotonic()) >= next_progress:
                next_progress = now + PROGRESS_EVERY_S
                report_progress(msg.t)
        for msg in sim.shutdown(t_end):
            send(msg)
        pub.flush(FLUSH_TIMEOUT_S)
    except PublisherError as err:
        raise FleetError(str(err)) from err
    finally:
        report_progress(t_end)
        pub.close()
    wall_s = time.monotonic() - wall0
    truth = sim.truth(t_end)
    if config.truth_path is not None:
        write_truth(config.truth_path, truth)
    return FleetReport(
        run_id=sim.run_id, start=sim.start, end=sim.ctx.ts(t_end), duration_s=t_end,
        wall_s=wall_s, protocol=config.protocol, published=dict(pub.acked),
        sent=dict(pub.sent), telemetry_messages=tally.telemetry, telemetry_values=tally.values,
        events=tally.events, statuses=tally.statuses, per_device=tally.per_device,
        incidents=len(truth), unacked=pub.inflight,
        rejected=sum(lk.rejected for lk in pub.links), reconnects=pub.reconnects,
        connections=len(pub.links), stopped_early=stopped, truth_path=config.truth_path,
    )

