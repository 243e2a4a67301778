"""One hostile message must cost one message, not the batch it shares with everyone else's.

PostgreSQL text cannot hold U+0000. JSON can (``"\\u0000"``), and the payload models accept
it in free-text fields, so a device that puts one NUL in an event's text (or a metric name)
makes the whole COPY batch fail — every other device's rows in it too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from gateway.ingest.bus import AckToken, Inbound
from gateway.ingest.pipeline import IngestLimits, Ingestor
from gateway.local_services import Mosquitto
from gateway.store.batch import Batch
from gateway.store.writer import upsert_devices, write_batch
from tests.helpers import publish, scalar, start_gateway, wait_for, wait_gateway_subscribed

NOW = datetime.now(UTC)
POISON = {
    "event text": ("city/futian/robot/robot-p1/event",
                   {"ts": NOW.isoformat(), "msg_id": "p1", "label": "spill", "text": "oil\u0000spill"}),
    "event unit": ("city/futian/robot/robot-p2/event",
                   {"ts": NOW.isoformat(), "msg_id": "p2", "label": "stuck", "value": 1, "unit": "m\u0000"}),
    "status firmware": ("city/futian/robot/robot-p3/status",
                        {"ts": NOW.isoformat(), "msg_id": "p3", "state": "online", "firmware": "1.0\u0000"}),
    "metric name": ("city/futian/sensor/aq-p4/telemetry",
                    {"ts": NOW.isoformat(), "msg_id": "p4", "metrics": {"pm\u000025": 1}}),
}


def good(i: int) -> tuple[str, bytes]:
    return ("city/futian/sensor/aq-good/telemetry",
            json.dumps({"ts": NOW.isoformat(), "msg_id": f"g{i}", "metrics": {"pm25": 10 + i}}).encode())


@pytest.mark.parametrize("what", list(POISON))
def test_batch_with_a_nul_message_is_still_written(what: str, db_url: str) -> None:
    topic, doc = POISON[what]
    ing, batch = Ingestor(IngestLimits()), Batch()
    for i, (t, payload) in enumerate([good(1), (topic, json.dumps(doc).encode()), good(2)]):
        ing.handle(Inbound(t, payload, [], NOW, AckToken(1, i + 1, 1)), batch)
    with psycopg.connect(db_url) as conn:
        write_batch(conn, batch)  # today: StoreError "PostgreSQL text fields cannot contain NUL"
        upsert_devices(conn, ing.take_device_updates())  # the registry keeps firmware text
    assert scalar(db_url, "SELECT count(*) FROM telemetry WHERE device_id = 'aq-good'") == 2


def test_gateway_keeps_ingesting_after_a_nul_message(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    gw = start_gateway(broker.url, db_url, tmp_path / "gw.log", client_id="gw-poison")
    try:
        wait_gateway_subscribed(db_url, broker.port)
        topic, doc = POISON["event text"]
        publish(broker.port, [(topic, json.dumps(doc).encode(), None)] + [(*good(i), None) for i in range(50)])
        ok = wait_for(lambda: scalar(db_url, "SELECT count(*) FROM telemetry WHERE device_id = 'aq-good'") == 50, 20)
        assert ok, "good telemetry stuck behind one NUL event:\n" + (tmp_path / "gw.log").read_text()[-1500:]
    finally:
        gw.terminate()
        gw.wait(20)
