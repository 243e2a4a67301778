"""Gateways on several hosts (#14 part 2): three gateway processes, each in its own network
namespace with its own address, split the device traffic by partition lease
(``URBANOPS_INGEST_PARTITIONED``, gateway/ingest/partitions.py). Devices, the broker and the
database sit in the root namespace, on a private bridge.

Every message is counted: N QoS 1 telemetry messages from sensors, robots and drones in every
district of the pack (so every partition carries traffic), and TimescaleDB must end up with
each exactly once when

- one gateway host disappears mid-stream (link down, then every process in it SIGKILLed),
- one gateway host's link is cut mid-stream for twice the lease, then mended,
- the broker is restarted (SIGTERM, persistence on) with the three gateways attached, with the
  gateways paused around it so that a backlog sits in the partitions' sessions and devices
  publish again before any gateway has resubscribed.

Stored throughput is sampled every 0.25 s and reported before, during and after each fault.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from devices.encoding import Publish
from gateway.local_services import Mosquitto, Postgres
from gateway.store.migrate import migrate
from simulators.publisher import MqttPublisher
from tests.ha.hosts import Network, available, private_network
from tests.helpers import ROOT, publish, wait_for

UNAVAILABLE = available()
pytestmark = [pytest.mark.slow, pytest.mark.services,
              pytest.mark.skipif(UNAVAILABLE is not None, reason=str(UNAVAILABLE))]

DISTRICTS = ("futian", "luohu", "nanshan")  # the demo pack's
KINDS = (("sensor", "pm25"), ("robot", "battery_pct"), ("drone", "battery_pct"))
PARTITIONS = sorted(f"{d}/{k}" for d in DISTRICTS for k, _ in KINDS)
N = 20_000
TTL_S = 6.0


@dataclass
class City:
    net: Network
    db: Postgres
    url: str  # the database, as the gateways reach it
    broker: Mosquitto
    root: Path
    gateways: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_gateway(self, i: int) -> None:
        host = self.net.hosts[i]
        env = {**os.environ, "URBANOPS_MQTT_URL": f"mqtt://{self.net.gateway_address}:{self.broker.port}",
               "URBANOPS_DATABASE_URL": self.url, "URBANOPS_INGEST_PARTITIONED": "true",
               "URBANOPS_INGEST_LEASE_TTL_S": str(TTL_S), "URBANOPS_DATA_DIR": str(self.root / f"gw{i}"),
               "URBANOPS_TRIAGE_ENABLED": "false", "URBANOPS_DISPATCH_ENABLED": "false",
               "URBANOPS_WEBHOOKS_ENABLED": "false", "URBANOPS_MAINTENANCE_INTERVAL_S": "60"}
        self.gateways[i] = host.popen([sys.executable, "-m", "gateway.cli.main", "gateway", "--client-id",
                                       f"gw{i}", "--no-http"], env=env, log=self.root / f"gw{i}.log", cwd=ROOT)

    def signal_all(self, sig: signal.Signals) -> None:
        for host in self.net.hosts:
            for pid in host.pids():
                os.kill(pid, sig)

    def owners(self) -> dict[str, str | None]:
        with psycopg.connect(self.local_url) as conn:
            return dict(conn.execute("SELECT partition, owner FROM ingest_leases WHERE expires_at > now()").fetchall())

    def count(self, tag: str) -> tuple[int, int]:
        with psycopg.connect(self.local_url) as conn:
            row = conn.execute("SELECT count(*), count(DISTINCT msg_id) FROM telemetry WHERE msg_id LIKE %s",
                               (f"{tag}-%",)).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def gap(self, tag: str, partitions: list[str]) -> float:
        """The longest stretch with nothing received on ``partitions`` (gateways' receive times)."""
        with psycopg.connect(self.local_url) as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM max(gap)) FROM (SELECT received_at - lag(received_at) OVER "
                "(ORDER BY received_at) AS gap FROM telemetry t JOIN devices d USING (device_id) "
                "WHERE t.msg_id LIKE %s AND d.district || '/' || d.kind = ANY(%s)) g",
                (f"{tag}-%", partitions)).fetchone()
        return float(row[0]) if row and row[0] is not None else 0.0

    @property
    def local_url(self) -> str:
        return f"{self.db.url.rsplit('/', 1)[0]}/{self.url.rsplit('/', 1)[1]}"


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    with private_network(3) as net:
        yield net


@pytest.fixture(scope="module")
def database(network: Network, services_root: Path) -> Iterator[Postgres]:
    # Its own cluster: the suite's listens on 127.0.0.1 only, which a namespace cannot reach.
    db = Postgres(services_root / "hosts-pg", also_listen=(network.gateway_address,),
                  trust_network=network.cidr).start()
    try:
        yield db
    finally:
        db.destroy()


@pytest.fixture()
def city(network: Network, database: Postgres, tmp_path: Path) -> Iterator[City]:
    name = f"hosts_{time.monotonic_ns() % 10**9}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://{database.user}@{network.gateway_address}:{database.port}/{name}"
    c = City(network, database, url, Mosquitto(tmp_path / "mq", also_listen=(network.gateway_address,)), tmp_path)
    migrate(c.local_url)
    c.broker.start()
    for host in network.hosts:
        host.mend()
    try:
        for i in range(3):
            c.start_gateway(i)
        # Every gateway holds its share, and every partition's session is subscribed.
        assert wait_for(lambda: _shares(c) == [3, 3, 3], 60, 0.25), _owners_log(c)
        _probe_every_partition(c)
        yield c
    finally:
        c.signal_all(signal.SIGCONT)
        for proc in c.gateways.values():
            proc.terminate()
        for proc in c.gateways.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for host in network.hosts:
            host.kill()
            host.mend()
        c.broker.stop()


def _shares(c: City) -> list[int]:
    owners = list(c.owners().values())
    return sorted(owners.count(f"gw{i}") for i in range(3))


def _owners_log(c: City) -> str:
    logs = "\n".join((c.root / f"gw{i}.log").read_text()[-1500:] for i in range(3) if (c.root / f"gw{i}.log").exists())
    return f"{c.owners()}\n{logs}"


def _probe_every_partition(c: City) -> None:
    stamp = time.monotonic_ns()
    msgs = []
    for p in PARTITIONS:
        district, kind = p.split("/")
        body = {"ts": datetime.now(UTC).isoformat(), "msg_id": f"probe{stamp}-{district}-{kind}",
                "metrics": {"battery_pct": 50}}
        msgs.append((f"city/{district}/{kind}/probe-{district}-{kind}/telemetry", json.dumps(body).encode(), None))

    def stored() -> bool:
        publish(c.broker.port, msgs)  # again until every partition's session is subscribed
        return wait_for(lambda: c.count(f"probe{stamp}")[1] == len(PARTITIONS), 1.0, 0.1)

    assert wait_for(stored, 60, 0.0), _owners_log(c)


class Stream:
    """N messages at ``rate`` over 90 devices of every partition; the stored count is sampled."""

    def __init__(self, c: City, tag: str, rate: float) -> None:
        self.c, self.tag, self.rate = c, tag, rate
        self.samples: list[tuple[float, int]] = []
        self.error: BaseException | None = None
        self.acked = 0
        self.done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Stream:
        self._sampler.start()
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            pub = MqttPublisher(self.c.broker.url, max_inflight=1000, backoff=(0.1, 1.0), stall_timeout=60)
            link = pub.add_link("hosts", f"pub-{self.tag}")
            pub.connect()
            start = time.monotonic()
            for i in range(N):
                district, (kind, metric) = DISTRICTS[i % 3], KINDS[(i // 3) % 3]
                body = {"ts": datetime.now(UTC).isoformat(), "msg_id": f"{self.tag}-{i}", "metrics": {metric: i % 100}}
                pub.publish(link, Publish(f"city/{district}/{kind}/{kind}-{self.tag}-{i % 90}/telemetry",
                                          json.dumps(body).encode()))
                while time.monotonic() < start + i / self.rate:
                    pub.poll(0.002)
                self.acked = sum(pub.acked.values())
            pub.flush(120)
            self.acked = sum(pub.acked.values())
            pub.close()
        except BaseException as err:  # reported by the test thread
            self.error = err
        finally:
            self.done.set()

    def _sample(self) -> None:
        while not self.done.is_set() or (self.samples and self.samples[-1][1] < N
                                         and time.monotonic() - self.samples[-1][0] < 120):
            self.samples.append((time.monotonic(), self.c.count(self.tag)[1]))
            time.sleep(0.25)

    def stored(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def finish(self) -> tuple[int, int]:
        self._thread.join(180)
        assert self.error is None, repr(self.error)
        assert self.acked == N, f"the broker acknowledged {self.acked} of {N}"
        assert wait_for(lambda: self.c.count(self.tag)[1] >= N, 120, 0.25), f"stored {self.c.count(self.tag)}"
        time.sleep(1.0)  # late redeliveries would show up as extra rows now
        self.done.set()
        self._sampler.join(5)
        return self.c.count(self.tag)

    def rate_between(self, t0: float, t1: float) -> float:
        inside = [(t, n) for t, n in self.samples if t0 <= t <= t1]
        if len(inside) < 2 or inside[-1][0] == inside[0][0]:
            return 0.0
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    def longest_stall(self, t0: float, t1: float) -> float:
        """The longest time in [t0, t1] during which the stored count did not grow."""
        longest, since, last = 0.0, t0, -1
        for t, n in self.samples:
            if t < t0 or t > t1:
                continue
            if n != last:
                since, last = t, n
            longest = max(longest, t - since)
        return longest


def _wait_stored(stream: Stream, n: int) -> None:
    assert wait_for(lambda: stream.stored() >= n, 60, 0.05), f"stored {stream.stored()} of {n}"


def _report(what: str, stream: Stream, total: int, distinct: int, fault: float, back: float, end: float,
            extra: str) -> None:
    print(f"\n{what}: published {N}, stored {total}, distinct {distinct}, lost {N - distinct}, duplicates "
          f"{total - distinct}; stored msg/s before {stream.rate_between(fault - 5, fault):.0f}, during "
          f"{stream.rate_between(fault, back):.0f} ({back - fault:.1f} s), after {stream.rate_between(back, end):.0f}; "
          f"longest stall {stream.longest_stall(fault, end):.1f} s; {extra}")


def _held_by(owners: dict[str, str | None], who: str) -> list[str]:
    return sorted(p for p, o in owners.items() if o == who)


def _moved_from(c: City, before: dict[str, str | None], dead: str) -> bool:
    now = c.owners()
    mine = [p for p, o in before.items() if o == dead]
    return bool(mine) and all(now.get(p) not in (None, dead) for p in mine)


def _lose_host(city: City, stream: Stream, after: int, fault: Callable[[], None]) -> tuple[dict[str, str | None],
                                                                                         float, float]:
    """Once ``after`` messages are stored, ``fault`` host 1; -> its partitions before, fault and move times."""
    _wait_stored(stream, after)
    before = city.owners()
    at = time.monotonic()
    fault()
    assert wait_for(lambda: _moved_from(city, before, "gw1"), 30, 0.1), _owners_log(city)
    return before, at, time.monotonic()


def test_a_gateway_host_disappears_mid_stream(city: City) -> None:
    stream = Stream(city, f"hk{time.monotonic_ns() % 10**6}", 1000.0).start()
    before, killed, moved = _lose_host(city, stream, N // 4, city.net.hosts[1].kill)
    total, distinct = stream.finish()
    end = stream.samples[-1][0]
    gap = city.gap(stream.tag, _held_by(before, "gw1"))
    _report("gateway host killed", stream, total, distinct, killed, moved, end,
            f"its {len(_held_by(before, 'gw1'))} partitions moved {moved - killed:.1f} s after the kill "
            f"(lease {TTL_S:.0f} s), nothing received on them for {gap:.1f} s; shares now {_shares(city)}")
    assert (total, distinct) == (N, N), f"lost {N - distinct}, duplicates {total - distinct}"
    assert moved - killed < 2 * TTL_S + 2 and gap < 2 * TTL_S + 4
    assert sorted(_shares(city)) == [0, 4, 5]  # the two survivors took all nine


def test_a_gateway_host_link_cut_mid_stream(city: City) -> None:
    stream = Stream(city, f"lc{time.monotonic_ns() % 10**6}", 800.0).start()
    before, cut, moved = _lose_host(city, stream, N // 5, city.net.hosts[1].cut)
    time.sleep(max(0.0, cut + 2 * TTL_S - time.monotonic()))
    city.net.hosts[1].mend()
    mended = time.monotonic()
    # The cut gateway noticed it lost its partitions without fighting for them; it rejoins.
    assert wait_for(lambda: _shares(city) == [3, 3, 3], 60, 0.25), _owners_log(city)
    rejoined = time.monotonic()
    total, distinct = stream.finish()
    end = stream.samples[-1][0]
    assert city.gateways[1].poll() is None, "the cut gateway exited"
    gap = city.gap(stream.tag, _held_by(before, "gw1"))
    _report("gateway host link cut", stream, total, distinct, cut, moved, end,
            f"its partitions moved {moved - cut:.1f} s after the cut, nothing received on them for {gap:.1f} s; "
            f"link down {mended - cut:.1f} s; "
            f"the gateway had its share back {rejoined - mended:.1f} s after the link returned")
    assert (total, distinct) == (N, N), f"lost {N - distinct}, duplicates {total - distinct}"
    assert moved - cut < 2 * TTL_S + 2 and gap < 2 * TTL_S + 4


def test_broker_restart_with_three_gateways(city: City) -> None:
    stream = Stream(city, f"br{time.monotonic_ns() % 10**6}", 1000.0).start()
    _wait_stored(stream, N // 4)
    city.signal_all(signal.SIGSTOP)  # a backlog builds in the partitions' persistent sessions
    time.sleep(1.0)
    paused_at, acked_at_pause = stream.stored(), stream.acked
    stopped = time.monotonic()
    city.broker.stop()  # SIGTERM: Mosquitto saves sessions and queued messages
    time.sleep(1.0)
    city.broker.start()
    acked = stream.acked
    # The devices are back and publishing before any gateway is.
    assert wait_for(lambda: stream.acked >= acked + 1000, 30, 0.02), "publisher did not reconnect"
    city.signal_all(signal.SIGCONT)
    resumed = time.monotonic()
    assert wait_for(lambda: stream.stored() > paused_at, 30, 0.05), "gateways did not resume storing"
    total, distinct = stream.finish()
    end = stream.samples[-1][0]
    _report("broker restarted under three gateways", stream, total, distinct, stopped, resumed, end,
            f"{acked_at_pause - paused_at} acked but not stored at the pause; gateways paused from the broker's "
            f"stop until devices had 1000 more acknowledged, {resumed - stopped:.1f} s; shares {_shares(city)}")
    assert (total, distinct) == (N, N), f"lost {N - distinct}, duplicates {total - distinct}"
