"""Shared bits for the closed-loop tests: an in-process gateway with dispatch and webhooks
attached exactly as the runtime wires them, a planted spill, and a webhook receiver."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.publish as mqtt_publish
import psycopg

from devices.geography import LatLon, offset
from devices.payloads import DeviceState, Event, Position, Status, Telemetry
from devices.topics import Channel, Kind, Topic
from gateway.dispatch import DispatchConfig, DispatchService
from gateway.runtime import GatewayRuntime
from gateway.settings import Settings
from gateway.webhooks import WebhookConfig, WebhookService
from gateway.webhooks.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify
from simulators.commands import CommandedRobot
from tests.helpers import publish, wait_gateway_subscribed

SPILL = LatLon(22.5431, 114.0579)  # futian centre, on a street node


@dataclass
class Loop:
    runtime: GatewayRuntime
    dispatch: DispatchService
    webhooks: WebhookService


@contextmanager
def gateway(broker_url: str, port: int, db_url: str, tmp: Path, dispatch: DispatchConfig,
            webhooks: WebhookConfig) -> Iterator[Loop]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(_env_file=None, mqtt_url=broker_url, database_url=db_url,  # type: ignore[call-arg]
                        mqtt_client_id=f"gw-dsp-{tag}", mqtt_share_group=f"g-dsp-{tag}", data_dir=tmp / "data",
                        maintenance_interval_s=2.0)
    # The runtime wires dispatch (task events from ingest batches, tickets from triage) and webhooks.
    rt = GatewayRuntime(settings, http=False, dispatch=dispatch, webhooks=webhooks)
    assert rt.dispatch is not None and rt.webhooks is not None and rt.triage is not None
    rt.start(migrate_first=False)
    try:
        wait_gateway_subscribed(db_url, port)
        yield Loop(rt, rt.dispatch, rt.webhooks)
    finally:
        rt.stop()


def retire(port: int, devices: Iterable[CommandedRobot]) -> None:
    """Stop test devices and clear the status they left retained on the session's broker, so a
    later test's gateway does not take them for live, idle devices and send them work."""
    devices = list(devices)
    for d in devices:
        if d.client.is_connected():
            d.stop(offline=False)
    mqtt_publish.multiple([{"topic": Topic(d.district, d.KIND, d.device_id, Channel.STATUS).render(),
                            "payload": b"", "qos": 1, "retain": True} for d in devices],
                          hostname="127.0.0.1", port=port)


def near(north_m: float, east_m: float = 0.0) -> LatLon:
    return offset(SPILL.lat, SPILL.lon, east_m, north_m)


def plant_spill(port: int, reporter: str = "robot-rep") -> float:
    """A robot low on battery (so it cannot be sent itself) reports a spill; monotonic time of it."""
    now = datetime.now(UTC)
    pos = Position(lat=SPILL.lat, lon=SPILL.lon)
    t = {ch: Topic("futian", Kind.ROBOT, reporter, ch).render() for ch in (Channel.STATUS, Channel.EVENT,
                                                                           Channel.TELEMETRY)}
    run = uuid.uuid4().hex[:6]
    msgs = [
        (t[Channel.STATUS], Status(ts=now, msg_id=f"{run}-1", state=DeviceState.ONLINE, battery_pct=12.0,
                                   position=pos).to_json(), None),
        (t[Channel.TELEMETRY], Telemetry(ts=now, msg_id=f"{run}-2", metrics={"battery_pct": 12.0},
                                         position=pos).to_json(), None),
        (t[Channel.EVENT], Event(ts=now, msg_id=f"{run}-3", label="spill", confidence=0.9,
                                 text="oil spill on the walkway", position=pos).to_json(), None),
    ]
    t0 = time.monotonic()
    publish(port, msgs)
    return t0


def rows(db_url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchall()


def ticket_history(db_url: str, ticket_id: str) -> list[tuple[str, str, float, dict[str, Any]]]:
    """(actor, action, epoch seconds, details) of each step of the ticket, in order."""
    out = rows(db_url, "SELECT actor, action, extract(epoch FROM ts), details FROM ticket_history"
                       " WHERE ticket_id = %s ORDER BY ts, id", (ticket_id,))
    return [(str(a), str(b), float(c), dict(d)) for a, b, c, d in out]


def ticket_of(db_url: str, category: str) -> str | None:
    found = rows(db_url, "SELECT ticket_id FROM tickets WHERE category = %s", (category,))
    return str(found[0][0]) if found else None


def ticket_status(db_url: str, ticket_id: str) -> str:
    return str(rows(db_url, "SELECT status FROM tickets WHERE ticket_id = %s", (ticket_id,))[0][0])


class Receiver:
    """An agency endpoint: answers 500 to the first ``fail_first`` requests, then 200."""

    def __init__(self, secret: str, fail_first: int = 2) -> None:
        self.secret, self.fail_first = secret, fail_first
        self.requests: list[tuple[int, str, dict[str, Any], bool]] = []  # (code, key, body, signature ok)
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    code = 500 if len(outer.requests) < outer.fail_first else 200
                    outer.requests.append((code, self.headers.get(IDEMPOTENCY_HEADER, ""), json.loads(raw),
                                           verify(outer.secret, raw, self.headers.get(SIGNATURE_HEADER))))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(key, body) for code, key, body, _ in self.requests if code == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
