"""The vision detector hangs and then crashes, and the LLM hangs past its timeout, while a
gateway (in this process, so the faults can be injected) keeps ingesting: every telemetry
message is stored, rules triage keeps making tickets (flagged as fallbacks), and the vision
backlog, drops, crashes and LLM timeouts are visible in ``/metrics``."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import psycopg
import pytest

import gateway.vision_link.sink
import triage.llm
import vision.detector
from devices.payloads import FrameMeta
from gateway.local_services import Mosquitto, free_port
from gateway.runtime import GatewayRuntime
from tests.api.conftest import make_settings
from tests.hardening.stalls import StalledLlama, StallingDetector
from tests.helpers import Publisher, scalar, scrape, wait_for, wait_gateway_subscribed

QUEUE = 8
FRAMES = 30
BREACHES = 4
LLM_TIMEOUT_S = 1.5


def frame(i: int) -> tuple[bytes, list[tuple[str, str]]]:
    img = np.random.default_rng(i).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    meta = FrameMeta(ts=datetime.now(UTC), msg_id=f"f{i}", lat=22.54, lon=114.05, alt_m=20.0,
                     heading_deg=0.0, pitch_deg=-90.0, hfov_deg=70.0)
    return buf.tobytes(), meta.to_user_properties()


def breach(pub: Publisher, i: int) -> None:
    """A gas reading past 10 %LEL (fire, high) in a district of its own: one incident each."""
    body = {"ts": datetime.now(UTC).isoformat(), "msg_id": "b1", "metrics": {"gas_lel_pct": 14.0},
            "position": {"lat": 22.5 + 0.03 * i, "lon": 114.0}}
    pub.publish(f"city/stall{i}/sensor/stall-gas-{i}/telemetry", json.dumps(body).encode())


@pytest.fixture()
def stalls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[StallingDetector, StalledLlama, Path]:
    detector, llama = StallingDetector(), StalledLlama()
    monkeypatch.setattr(vision.detector, "create_detector", detector.factory)
    # The redactor would load two real models for frames that never reach it.
    monkeypatch.setattr(gateway.vision_link.sink, "_default_redactor", lambda _config: None)
    monkeypatch.setattr(triage.llm, "_load_llama", lambda _config, _path: llama)
    model = tmp_path / "stalled.gguf"
    model.write_bytes(b"GGUF not a model: _load_llama is replaced")
    return detector, llama, model


def test_stalled_and_crashing_models_do_not_stop_ingest_or_triage(
        broker: Mosquitto, db_url: str, tmp_path: Path,
        stalls: tuple[StallingDetector, StalledLlama, Path]) -> None:
    detector, llama, model = stalls
    settings = make_settings(mqtt_url=broker.url, database_url=db_url, http_port=free_port(),
                             data_dir=tmp_path / "data", vision_enabled=True, vision_queue_size=QUEUE,
                             vision_batch=1, triage_backend="llm", llm_model=model, llm_timeout_s=LLM_TIMEOUT_S,
                             mqtt_share_group="")
    runtime = GatewayRuntime(settings, client_id=f"gw-stall-{time.monotonic_ns()}").start(migrate_first=False)
    pub = Publisher(broker.port, f"stall-pub-{time.monotonic_ns()}")
    stop = threading.Event()
    sent = [0]

    def stream() -> None:  # ~200 msg/s of ordinary telemetry the whole time
        while not stop.is_set():
            for _ in range(20):
                body = {"ts": datetime.now(UTC).isoformat(), "msg_id": f"t{sent[0]}", "metrics": {"pm25": 20.0}}
                pub.publish(f"city/stall/sensor/stall-aq-{sent[0] % 10}/telemetry", json.dumps(body).encode())
                sent[0] += 1
            time.sleep(0.1)

    streamer = threading.Thread(target=stream)
    try:
        wait_gateway_subscribed(db_url, broker.port)
        assert wait_for(lambda: runtime.vision.ready.is_set(), 30) and runtime.vision.failed is None
        streamer.start()
        # Phase 1: the detector hangs on the first frame; the rest pile up and the oldest are dropped.
        for i in range(FRAMES):
            pub.publish("city/stall/drone/stall-drone-1/frame", *frame(i))
        assert detector.entered.wait(30)
        for i in range(BREACHES):
            breach(pub, i)
        tickets_q = "SELECT count(*) FROM tickets WHERE district LIKE 'stall%'"
        assert wait_for(lambda: scalar(db_url, tickets_q) == BREACHES, 30 + BREACHES * LLM_TIMEOUT_S * 4)
        m = scrape(runtime.url)
        # The backlog is held at its bound (one frame may be in the hung detector's hands), the
        # oldest frames were dropped and counted: nothing vanished unaccounted.
        assert m["urbanops_vision_queue"] >= QUEUE - 1 and m["urbanops_vision_submitted"] == FRAMES
        assert m["urbanops_vision_dropped"] + m["urbanops_vision_queue"] + 1 == FRAMES
        assert m["urbanops_vision_processed"] == 0
        assert m["urbanops_triage_llm_timeouts"] >= BREACHES
        assert m["urbanops_triage_fallbacks"] >= BREACHES
        assert llama.calls >= 1
        with psycopg.connect(db_url) as conn:
            bodies = [r[0] for r in conn.execute("SELECT body FROM tickets WHERE district LIKE 'stall%'")]
            audit = [r[0] for r in conn.execute("SELECT record->>'validation' FROM triage_audit")]
        assert all(b["triage"]["fallback"] and b["category"] == "fire" for b in bodies), bodies
        assert audit and set(audit) == {"timeout"}, audit
        stalled_metrics = m
        # Phase 2: the detector comes back only to crash on every batch; the backlog drains.
        detector.release.set()
        assert wait_for(lambda: scrape(runtime.url)["urbanops_vision_queue"] == 0, 30)
        for i in range(FRAMES, FRAMES + 5):
            pub.publish("city/stall/drone/stall-drone-1/frame", *frame(i))
        assert wait_for(lambda: scrape(runtime.url)["urbanops_vision_batch_errors"]
                        == m["urbanops_vision_queue"] + 1 + 5, 30)
        crashed = scrape(runtime.url)
        assert crashed["urbanops_vision_processed"] == crashed["urbanops_vision_batch_errors"]
        assert crashed["urbanops_vision_observations"] == 0
        stop.set()
        streamer.join()
        pub.close()
        assert pub.acked == pub.sent
        stored_q = "SELECT count(*) FROM telemetry WHERE device_id LIKE 'stall-aq-%'"
        assert wait_for(lambda: scalar(db_url, stored_q) == sent[0], 30), (scalar(db_url, stored_q), sent[0])
        assert scalar(db_url, "SELECT count(*) FROM dead_letters") == 0
        sm = stalled_metrics
        print(f"stalled: {sent[0]} telemetry published, {scalar(db_url, stored_q)} stored; {BREACHES} tickets "
              f"(llm timeouts {sm['urbanops_triage_llm_timeouts']:.0f}); vision queue "
              f"{sm['urbanops_vision_queue']:.0f}, dropped {sm['urbanops_vision_dropped']:.0f};"
              f" crashing: batch errors {crashed['urbanops_vision_batch_errors']:.0f}")
    finally:
        stop.set()
        if streamer.is_alive():
            streamer.join()
        detector.release.set()
        llama.release.set()
        runtime.stop()

