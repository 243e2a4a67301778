"""``promtool check metrics`` (Prometheus' own linter) on a live gateway's ``/metrics``:
base units (seconds, not milliseconds), counter suffixes, help text. Skipped only where
promtool is absent (Debian: ``apt-get install prometheus``; ``scripts/bootstrap.sh`` does it)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gateway.ingest.metrics import StatsCollector
from gateway.local_services import Mosquitto, free_port
from tests.helpers import publish, scrape, start_gateway, wait_for, wait_gateway_subscribed

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")


def promtool(text: str) -> str:
    """promtool's complaints about ``text`` (empty when clean); fails the test on a parse error."""
    assert PROMTOOL is not None
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    out = (proc.stdout + proc.stderr).decode()
    assert proc.returncode == 0 or out.strip(), f"promtool failed silently (rc {proc.returncode})"
    return out.strip()


def _names(text: str) -> set[str]:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_live_gateway_metrics_are_promtool_clean(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id="gw-promtool", http_port=port)
    try:
        wait_gateway_subscribed(db_url, broker.port)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        publish(broker.port, [
            ("city/futian/sensor/aq-0001/telemetry",
             b'{"ts":"%s","msg_id":"m-1","metrics":{"pm25":12.0}}' % now.encode(), None),
            ("city/futian/sensor/aq-0001/telemetry", b"{not json", None),  # a dead letter, with its reason label
        ])
        # Wait until every family promtool should see has samples: stored batches, a dead letter,
        # the triage service's gauges and the API's own request metrics.
        assert wait_for(lambda: any(k.startswith("urbanops_dead_letters_total{") for k in scrape(base))
                        and "urbanops_triage_last_latency_seconds" in scrape(base), 60), \
            (tmp_path / "gw.log").read_text()[-2000:]
        text = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        gw.terminate()
        gw.wait(timeout=30)
    names = _names(text)
    assert {"urbanops_store_last_batch_seconds", "urbanops_triage_last_latency_seconds",
            "urbanops_http_request_duration_seconds", "urbanops_store_batches_total"} <= names, names
    assert not [n for n in names if re.search(r"_(ms|milliseconds)(_|$)", n)], names
    (batch_s,) = [float(line.split()[1]) for line in text.splitlines()
                  if line.startswith("urbanops_store_last_batch_seconds ")]
    assert 0 < batch_s < 1.0, batch_s  # a one-row batch takes milliseconds: this is seconds, not ms
    assert promtool(text) == ""


def test_millisecond_stats_are_exported_in_seconds() -> None:
    registry = CollectorRegistry()
    stats = {"latency_p50_ms": 48.0, "latency_p95_ms": 65.0, "queue": 3, "ready": True, "failed": None,
             "pending": 0}
    registry.register(StatsCollector("vision", lambda: stats))
    text = generate_latest(registry).decode()
    assert "urbanops_vision_latency_p95_seconds 0.065" in text and "urbanops_vision_latency_p50_seconds 0.048" in text
    assert "_ms" not in text and "urbanops_vision_ready 1.0" in text
    assert promtool(text) == ""


def test_partitioned_gateway_shows_its_partitions(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id="gw-promtool-parts", http_port=port,
                       extra_env={"URBANOPS_INGEST_PARTITIONED": "true", "URBANOPS_TRIAGE_ENABLED": "false",
                                  "URBANOPS_MQTT_PARTITION_PREFIX": "promtool-parts"})
    try:
        # A lone gateway holds all nine of the demo pack's partitions (3 districts x 3 kinds).
        assert wait_for(lambda: sum(k.startswith("urbanops_ingest_partition_held{") for k in scrape(base)) == 9
                        and scrape(base).get("urbanops_mqtt_connected") == 1, 60), \
            (tmp_path / "gw.log").read_text()[-2000:]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        publish(broker.port, [("city/luohu/robot/pr-0001/telemetry",
                               b'{"ts":"%s","msg_id":"p-1","metrics":{"battery_pct":80}}' % now.encode(), None)])
        assert wait_for(lambda: scrape(base).get("urbanops_store_rows_total", 0) >= 1, 30)
        text = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        gw.terminate()
        gw.wait(timeout=30)
    assert 'urbanops_ingest_partition_held{partition="luohu/robot"} 1.0' in text
    assert promtool(text) == ""
