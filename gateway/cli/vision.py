"""``urbanops vision ...``: train, evaluate and export the urban detector; run an edge worker."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from gateway.cli import vision_models as cli_vision_models
from vision.detector import SHIPPED_WEIGHTS

if TYPE_CHECKING:
    from gateway.settings import Settings
    from gateway.store.observations import ObservationRow
    from gateway.vision_link.sink import VisionSink

app = typer.Typer(help="Vision: train/export the urban detector, run a detection worker.", no_args_is_help=True)
console = Console(stderr=True)


cli_vision_models.register(app)


def _say(text: str) -> None:
    console.print(f"[vision] {text}")


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Where the weights and their JSON report go.")] = SHIPPED_WEIGHTS.parent,
    work: Annotated[Path, typer.Option(help="Scratch folder for rendered data and runs.")] = Path(".local/vision"),
    epochs: Annotated[int, typer.Option(min=1)] = 5,
    n_train: Annotated[int, typer.Option(min=10)] = 1500,
    imgsz: Annotated[int, typer.Option(min=64)] = 320,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:0, ...")] = "cpu",
    workers: Annotated[int, typer.Option(min=0)] = 2,
    start: Annotated[str, typer.Option(help="'fastanpr' (YOLOv8n checkpoint) or urban weights to continue")]
    = "fastanpr",
    lr0: Annotated[float, typer.Option(help="Initial learning rate (AdamW)")] = 0.0015,
    warmup_epochs: Annotated[float, typer.Option(min=0)] = 0.5,
    mosaic: Annotated[float, typer.Option(min=0, max=1, help="Mosaic probability (0 when continuing)")] = 1.0,
) -> None:
    """Render synthetic scenes, fine-tune YOLOv8n from fastanpr's checkpoint, evaluate held-out."""
    from simulators.scenes.dataset import write_dataset  # the scenes are composed here, not in vision/
    from vision.train import Recipe
    from vision.train import train as run_train

    recipe = Recipe(n_train=n_train, epochs=epochs, imgsz=imgsz, workers=workers, start=start, lr0=lr0,
                    warmup_epochs=warmup_epochs, mosaic=mosaic, close_mosaic=min(2, epochs))
    report = run_train(recipe, work, out, write_dataset, _say, device=device)
    _say(f"held-out mAP50 {report['heldout']['map50']} -> {out / report['weights']}")
    print(json.dumps(report))


@app.command()
def worker(
    district: Annotated[list[str] | None, typer.Option(help="Only these districts (repeatable); default all.")] = None,
    group: Annotated[str, typer.Option(help="MQTT v5 shared-subscription group: workers in it split frames.")]
    = "vision",
    client_id: Annotated[str | None, typer.Option(help="MQTT client id (unique per worker).")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Edge detection worker: frames from MQTT (shared subscription) -> detections back as events."""
    import os
    import threading
    import time

    from gateway.city import CityHolder
    from gateway.runtime import zone_map
    from gateway.settings import Settings
    from gateway.vision_link.sink import VisionConfig, VisionSink
    from vision.detector import create_detector

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    cid = client_id or f"urbanops-vision-{os.getpid()}"
    link = FrameLink(settings, cid)
    city = CityHolder(settings.city_dir)
    sink = VisionSink(VisionConfig.from_settings(settings, zones=zone_map(city.pack)), create_detector, "",
                      settings.data_dir, on_observation=link.publish_observation)
    city.listeners.append(lambda pack: sink.set_zones(zone_map(pack)))
    city.install_sighup()
    link.sink = sink
    sink.start()
    if not sink.wait_ready(600):
        console.print(f"[red]vision failed to start: {sink.failed}[/red]")
        raise typer.Exit(1)
    link.start(district or ["+"], group)
    if not link.wait_subscribed(60):
        console.print("[red]the broker did not grant the frame subscription in 60 s[/red]")
    _say(f"worker {cid} in group {group!r} for districts {', '.join(district or ['all'])}")
    stop = threading.Event()
    end = time.monotonic() + duration if duration else None
    try:
        while not stop.wait(5.0):
            s = sink.stats()
            _say(f"processed {s['processed']} dropped {s['dropped']} observations {s['observations']} "
                 f"queue {s['queue']} p95 {s['latency_p95_ms']} ms")
            if end is not None and time.monotonic() >= end:
                break
    except KeyboardInterrupt:
        pass
    finally:
        link.stop()
        sink.stop()


class FrameLink:
    """The worker's MQTT side: shared subscription to frames in, detections out as device events.

    Detections go back on the device's own ``event`` topic (SPEC §2 Event with a vision label),
    so the gateway stores them through its normal, deduplicated event path.
    """

    def __init__(self, settings: Settings, client_id: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.sink: VisionSink | None = None
        self.rejected = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if settings.mqtt_username:
            self.client.username_pw_set(settings.mqtt_username, settings.mqtt_password)
        if settings.mqtt_tls:
            self.client.tls_set()
        self.client.on_message = self._on_message
        self.host, self.port = settings.mqtt_host, settings.mqtt_port
        self._filters: list[str] = []
        self._pending: set[int] = set()
        # Set once the broker has granted every frame subscription of the current connection;
        # a frame published before that is not delivered to this worker.
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe

    def start(self, districts: list[str], group: str) -> None:
        from devices.topics import Channel, shared, subscription

        self._filters = [shared(subscription(Channel.FRAME, district=d), group) for d in districts]
        self.client.connect(self.host, self.port)
        self.client.loop_start()

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any = None) -> None:
        self.subscribed.clear()
        self._pending = set()
        for f in self._filters:  # (re)subscribe on every connect
            _rc, mid = client.subscribe(f, qos=1)
            self._pending.add(mid)
        if not self._filters:
            self.subscribed.set()

    def _on_subscribe(self, _client: Any, _userdata: Any, mid: int, reason_codes: Any, _props: Any = None) -> None:
        if any(getattr(rc, "is_failure", False) for rc in reason_codes or []):
            logging.getLogger(__name__).error("broker refused a frame subscription: %s", reason_codes)
            return
        self._pending.discard(mid)
        if not self._pending:
            self.subscribed.set()

    def wait_subscribed(self, timeout: float) -> bool:
        """Block until every frame subscription is granted (or ``timeout`` seconds pass)."""
        return self.subscribed.wait(timeout)

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        from pydantic import ValidationError

        from devices.payloads import MAX_FRAME_BYTES, FrameMeta
        from devices.topics import Channel, TopicError, parse_topic
        from gateway.ingest.frames import FrameError, check_jpeg

        try:
            topic = parse_topic(msg.topic)
            if topic.channel is not Channel.FRAME:
                raise TopicError("not a frame topic")
            meta = FrameMeta.from_user_properties(list(getattr(msg.properties, "UserProperty", []) or []))
            check_jpeg(bytes(msg.payload), MAX_FRAME_BYTES)
        except (TopicError, ValidationError, FrameError) as err:
            self.rejected += 1
            logging.getLogger(__name__).debug("frame refused on %s: %s", msg.topic[:120], err)
            return
        if self.sink is not None:
            self.sink.submit(topic, meta, bytes(msg.payload))

    def publish_observation(self, row: ObservationRow) -> None:
        from devices.payloads import Event, Position
        from devices.topics import Channel, Kind, Topic

        if not (row.district and row.device_kind and row.device_id and row.label):
            return
        text = f"vision: {row.count} x {row.label}" + (f" at {', '.join(row.place_tags)}" if row.place_tags else "")
        event = Event(ts=row.ts, msg_id=row.observation_id[:64], label=row.label, confidence=row.confidence,
                      value=float(row.count or 1), text=text,
                      position=Position(lat=row.lat, lon=row.lon) if row.lat is not None and row.lon is not None
                      else None)
        topic = Topic(row.district, Kind(row.device_kind), row.device_id, Channel.EVENT).render()
        self.client.publish(topic, event.to_json(), qos=1)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
