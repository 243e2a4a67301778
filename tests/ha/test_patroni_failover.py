"""Losing the database's host mid-stream (#14 part 1).

Two PostgreSQL+TimescaleDB nodes under Patroni with synchronous replication; the gateway,
triage and the API connect through one multi-host URL (``target_session_attrs=read-write``).
During a 20,000-message telemetry stream the primary's host is lost — Patroni, the postmaster
and every backend SIGKILLed together. The standby takes over, the gateway journals while no node
takes writes and replays when one does: every message the broker acknowledged is stored once,
and an incident planted after the failover still becomes a ticket. Then the lost node comes
back and rejoins as the synchronous standby. Failover time and the
ingest gap are measured and printed (the README's reliability table quotes them).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from gateway.ha_services import patroni_cluster
from gateway.local_services import Mosquitto, free_port
from gateway.security.auth import hash_secret, new_secret
from gateway.store.migrate import migrate
from tests.helpers import Publisher, scalar, start_gateway, wait_for, wait_gateway_subscribed

pytestmark = pytest.mark.slow

MESSAGES = 20_000
RATE_PER_TICK = 50  # per 0.1 s: about 500 msg/s, so the stream spans the failover
KILL_AFTER = 4_000  # messages published before the primary's host is lost


STREAMED = "SELECT count(DISTINCT msg_id) FROM telemetry WHERE device_id LIKE 'ha-0%'"


def _count(url: str) -> int | None:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            row = conn.execute("SELECT count(*) FROM telemetry WHERE device_id LIKE 'ha-0%'").fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return None


def _telemetry_items(api: str, auth: dict[str, str]) -> int:
    try:
        resp = httpx.get(f"{api}/api/v1/devices/ha-0001/telemetry", params={"metric": "pm25"},
                         headers=auth, timeout=10)
    except httpx.HTTPError:
        return -1
    return len(resp.json()["items"]) if resp.status_code == 200 else -1


class Stream:
    """MESSAGES telemetry messages at about 500/s, with the stored count sampled 4 times a
    second through the clients' URL meanwhile."""

    def __init__(self, broker_port: int, url: str) -> None:
        self.pub = Publisher(broker_port, "ha-pub")
        self.url = url
        self.kill_point = threading.Event()
        self.samples: list[tuple[float, int | None]] = []
        self._watching = threading.Event()
        self._threads = [threading.Thread(target=self._publish), threading.Thread(target=self._watch)]
        for t in self._threads:
            t.start()

    def _publish(self) -> None:
        for i in range(MESSAGES):
            if i == KILL_AFTER:
                self.kill_point.set()
            body = {"ts": datetime.now(UTC).isoformat(), "msg_id": f"h{i}", "metrics": {"pm25": float(i % 300)}}
            self.pub.publish(f"city/futian/sensor/ha-{i % 40:04d}/telemetry", json.dumps(body).encode())
            if i % RATE_PER_TICK == RATE_PER_TICK - 1:
                time.sleep(0.1)
        self.pub.close()

    def _watch(self) -> None:
        while not self._watching.is_set():
            self.samples.append((time.monotonic(), _count(self.url)))
            self._watching.wait(0.25)

    def published(self) -> None:
        self._threads[0].join()

    def stop_watching(self) -> None:
        self._watching.set()
        self._threads[1].join()

    def figures(self, lost_at: float) -> dict[str, float | None]:
        """When the clients' URL first answered after the loss, and the longest stretch in
        which the stored count did not grow (the ingest gap as a reader sees it)."""
        back = next((t for t, c in self.samples if t > lost_at and c is not None), None)
        gap, last_t, last_c = 0.0, self.samples[0][0], self.samples[0][1] or 0
        for t, c in self.samples:
            if c is not None and c > last_c:
                gap = max(gap, t - last_t)
                last_t, last_c = t, c
        return {"writable_again_s": round(back - lost_at, 1) if back else None, "ingest_gap_s": round(gap, 1)}


def _operator_token(url: str) -> dict[str, str]:
    secret = new_secret()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO api_tokens (name, role, token_hash) VALUES ('ha', 'operator', %s)",
                     (hash_secret(secret),))
    return {"Authorization": f"Bearer {secret}"}


def _flood_after_failover(broker_port: int) -> None:
    probe = Publisher(broker_port, "ha-breach")
    for n, level in enumerate((2.0, 55.0)):
        body = {"ts": datetime.now(UTC).isoformat(), "msg_id": f"b{n}",
                "metrics": {"water_level_cm": level}, "position": {"lat": 22.54, "lon": 114.05}}
        probe.publish("city/futian/sensor/ha-flood-01/telemetry", json.dumps(body).encode())
    probe.close()


def test_primary_host_lost_mid_stream_loses_nothing(broker: Mosquitto, services_root: Path,
                                                    tmp_path: Path) -> None:
    t0 = time.monotonic()
    with patroni_cluster(services_root / "ha") as cluster:
        cluster_s = time.monotonic() - t0
        url = cluster.url
        migrate(url)
        first = cluster.wait_leader(30)
        port = free_port()
        gw = start_gateway(broker.url, url, tmp_path / "gw.log", client_id="gw-ha", http_port=port,
                           extra_env={"URBANOPS_DATABASE_READ_URL": cluster.read_url})
        api = f"http://127.0.0.1:{port}"
        try:
            wait_gateway_subscribed(url, broker.port, timeout_s=60)
            auth = _operator_token(url)
            stream = Stream(broker.port, url)
            assert stream.kill_point.wait(60)
            # Telemetry history is read from the standby (URBANOPS_DATABASE_READ_URL): the API's
            # read pool is the only client connected there.
            standby = next(n for n in cluster.members if n is not first)
            assert _telemetry_items(api, auth) > 0
            assert scalar(cluster.node_url(standby), "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                          "'urbanops' AND backend_type = 'client backend' AND pid <> pg_backend_pid()") >= 1
            first.kill()
            lost_at = time.monotonic()
            second = cluster.wait_leader(60, exclude=first)
            promoted_s = time.monotonic() - lost_at
            stream.published()
            assert stream.pub.acked == stream.pub.sent == MESSAGES

            _flood_after_failover(broker.port)  # triage and the API ride through as well
            assert wait_for(lambda: scalar(url, STREAMED) == MESSAGES, 120, 0.5), \
                "not every acknowledged message reached the new primary"
            stream.stop_watching()
            assert scalar(url, "SELECT count(*) FROM telemetry WHERE device_id LIKE 'ha-0%'") == MESSAGES
            assert wait_for(lambda: scalar(url, "SELECT count(*) FROM tickets WHERE category = 'flood'") == 1,
                            60, 0.5), "the incident after the failover got no ticket"
            assert wait_for(lambda: httpx.get(f"{api}/healthz", timeout=5).json().get("status") == "ok", 30, 0.5)
            # With the standby gone the read URL falls back to the primary (prefer-standby).
            assert wait_for(lambda: _telemetry_items(api, auth) > 0, 30, 0.5)

            # The lost host comes back: rewound, it rejoins as the synchronous standby with every row.
            back_at = time.monotonic()
            first.start()
            assert wait_for(lambda: cluster.sync_standbys() == [first.name], 90, 0.5), cluster.sync_standbys()
            rejoined_s = time.monotonic() - back_at
            assert wait_for(lambda: scalar(cluster.node_url(first), STREAMED) == MESSAGES, 30, 0.5)
            print(json.dumps({"messages": MESSAGES, "lost": MESSAGES - scalar(url, STREAMED),
                              "promoted_s": round(promoted_s, 1), **stream.figures(lost_at),
                              "rejoined_as_sync_standby_s": round(rejoined_s, 1),
                              "cluster_start_s": round(cluster_s, 1), "test_s": round(time.monotonic() - t0, 1),
                              "old": first.name, "new": second.name}))
        finally:
            gw.terminate()
            gw.wait(30)
