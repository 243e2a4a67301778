"""Fixtures for the incident, ticket, feed, Open311 and export endpoints: an app whose data dir
holds evidence images, rows inserted directly with psycopg, and a live uvicorn server for
clients that need real streaming (SSE, the browser)."""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from gateway.api import create_app
from tests.api.conftest import Db, make_settings
from tests.api.conftest import db as db
from tests.api.conftest import tokens as tokens
from triage.models import Ticket

EVIDENCE_REL = "evidence/futian/20261128/drone-03-0001.png"


def png(width: int = 64, height: int = 48) -> bytes:
    """A small valid PNG (a red square on grey), written without an imaging library."""
    rows = b"".join(
        b"\x00" + b"".join(b"\xd0\x20\x20" if 16 <= x < 40 and 12 <= y < 36 else b"\x90\x90\x90" for x in range(width))
        for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def ticket_body(incident_id: str, ticket_id: str, *, category: str = "fire", severity: str = "high",
                agency: str = "fire_rescue", sla_due: datetime, opened_at: datetime,
                citations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    ticket = Ticket.model_validate({
        "ticket_id": ticket_id, "incident_id": incident_id, "category": category, "severity": severity,
        "agency": agency, "urgency": "Immediate", "certainty": "Observed",
        "summary": f"{category} reported near Futian Station", "actions": ["Dispatch the nearest unit"],
        "sla_due": sla_due.isoformat(), "confidence": 0.9, "needs_review": False,
        "triage": {"backend": "rules", "model": "rules-v1", "latency_ms": 1.0}, "district": "futian",
        "location": {"lat": 22.5375, "lon": 114.056, "address": "Futian Station", "place_tags": ["metro"]},
        "opened_at": opened_at.isoformat(), "citations": citations or []})
    return ticket.model_dump(mode="json", exclude_none=True)


@dataclass
class Seed:
    db: Db

    def incident(self, incident_id: str = "inc-0001", *, district: str = "futian", category: str = "fire",
                 severity: str = "high", ticket: bool = True, agency: str = "fire_rescue",
                 sla_in: timedelta = timedelta(minutes=30), evidence: str | None = EVIDENCE_REL,
                 status: str = "open", lat: float = 22.5375, lon: float = 114.056,
                 citations: list[dict[str, Any]] | None = None) -> str:
        """Insert an incident with one vision observation and (optionally) its ticket; return the ticket id."""
        now = datetime.now(UTC)
        self.db.execute(
            "INSERT INTO incidents (incident_id, district, category, severity, status, opened_at, updated_at,"
            " lat, lon, place_tags, observation_count, body) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,1,%s)",
            (incident_id, district, category, severity, "open", now, now, lat, lon, ["metro"],
             Jsonb({"incident_id": incident_id, "district": district, "observations": []})))
        self.db.execute(
            "INSERT INTO observations (ts, observation_id, source, device_id, device_kind, district, label,"
            " confidence, lat, lon, evidence_path, incident_id) VALUES (%s,%s,'vision','drone-03','drone',%s,"
            " 'smoke', 0.87, %s, %s, %s, %s)",
            (now, f"obs-{incident_id}", district, lat, lon, evidence, incident_id))
        ticket_id = f"tkt-{incident_id}"
        if ticket:
            body = ticket_body(incident_id, ticket_id, category=category, severity=severity, agency=agency,
                               sla_due=now + sla_in, opened_at=now, citations=citations)
            self.db.execute(
                "INSERT INTO tickets (ticket_id, incident_id, district, category, severity, agency, status,"
                " needs_review, sla_due, created_at, updated_at, body) VALUES (%s,%s,%s,%s,%s,%s,%s,false,%s,%s,%s,%s)",
                (ticket_id, incident_id, district, category, severity, agency, status, now + sla_in, now, now,
                 Jsonb(body)))
            self.db.execute("INSERT INTO ticket_history (ticket_id, actor, action) VALUES (%s, 'triage:rules',"
                            " 'created')", (ticket_id,))
        return ticket_id


@pytest.fixture()
def seed(db: Db) -> Seed:
    return Seed(db)


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / EVIDENCE_REL).parent.mkdir(parents=True)
    (root / EVIDENCE_REL).write_bytes(png())
    (tmp_path / "secret.png").write_bytes(png())  # outside the data dir: must never be served
    return root


@pytest.fixture()
def client(db_url: str, data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(database_url=db_url, data_dir=data_dir))) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture()
def live_server(db_url: str, data_dir: Path) -> Iterator[LiveServer]:
    """The app under uvicorn in a thread (TestClient cannot stream an endless response)."""
    yield from serve(create_app(make_settings(database_url=db_url, data_dir=data_dir)))


def serve(app: Any) -> Iterator[LiveServer]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", server, thread)
    server.should_exit = True
    thread.join(timeout=10)
