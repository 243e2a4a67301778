"""An edge site (#15) whose uplink fails: the site is a network namespace with its own address;
its broker (``urbanops edge run``: Mosquitto bridged to the city's) and its devices run inside
it; the city's broker, gateway and database outside. Mid-stream the site's link is cut for 60 s,
and halfway through the outage the site broker is restarted (SIGTERM; its queue on disk).

Counted: every telemetry message the site broker acknowledged is stored in the city exactly
once, in each device's own order; a command the city sent during the outage reaches the
drone after it; the drone's camera frames never cross the uplink (a subscriber at the city sees
none), and the bytes that did cross are measured against the raw frames' bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.local_services import Mosquitto, free_port, stop_process
from tests.edge.city_watch import CityWatch
from tests.ha.hosts import Network, available, private_network
from tests.helpers import ROOT, scalar, scrape, start_gateway, wait_for, wait_gateway_subscribed

UNAVAILABLE = available()
pytestmark = [pytest.mark.slow, pytest.mark.services,
              pytest.mark.skipif(UNAVAILABLE is not None, reason=str(UNAVAILABLE))]

N = 9_000
RATE = 100.0  # telemetry msg/s from the site: 90 s of stream
OUTAGE_S = 60.0
SITE_PORT = 1883  # inside the site's namespace
SITE_METRICS = 9400


@pytest.fixture()
def network() -> Iterator[Network]:
    with private_network(1) as net:
        yield net


def _out_of_order(db_url: str, tag: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT device_id, seq, prev, received_at, ts FROM (SELECT device_id, received_at, ts, "
            "split_part(msg_id, '-', 2)::int AS seq, lag(split_part(msg_id, '-', 2)::int) OVER "
            "(PARTITION BY device_id ORDER BY received_at, ts) AS prev FROM telemetry WHERE msg_id LIKE %s) s "
            "WHERE seq < prev ORDER BY received_at", (f"{tag}-%",)).fetchall()


def _drain(stored: Callable[[], int]) -> tuple[float, int]:
    """From the link's return: how long until the backlog is in (storing back to the live rate
    after the surge), and how many messages came in that time."""
    start, first = time.monotonic(), stored()
    samples, surged = [(start, first)], False
    while time.monotonic() < start + 90:
        time.sleep(0.25)
        samples.append((time.monotonic(), stored()))
        recent = [n for t, n in samples if t >= samples[-1][0] - 1.0]
        gain = recent[-1] - recent[0]
        surged = surged or gain > 3 * RATE
        if surged and gain < 1.5 * RATE:
            break
    return samples[-1][0] - start, samples[-1][1] - first


class Site:
    """The city (broker, gateway with its /metrics, a watcher) and one edge site running
    ``urbanops edge run`` in its namespace."""

    def __init__(self, net: Network, db_url: str, services_root: Path, tmp_path: Path) -> None:
        self.tag = f"up{time.monotonic_ns() % 10**6}"
        self.name, self.host, self.db_url, self.tmp = f"dock-{self.tag}", net.hosts[0], db_url, tmp_path
        self.city = Mosquitto(services_root / f"city-{self.tag}", also_listen=(net.gateway_address,)).start()
        self.http = free_port()
        self.gw = start_gateway(self.city.url, db_url, tmp_path / "gw.log", client_id=f"gw-{self.tag}",
                                http_port=self.http, extra_env={"URBANOPS_TRIAGE_ENABLED": "false"})
        self.watch = CityWatch(self.city.port, f"edge-{self.name}")
        self.city_url = f"mqtt://{net.gateway_address}:{self.city.port}"
        self.state = services_root / f"edge-{self.tag}"
        # What the README asks of a site's host: notice a silently dead uplink in seconds (TCP's
        # default retries last ~15 min, and the bridge sees only its own unanswered sends).
        subprocess.run(["ip", "netns", "exec", self.host.netns, "sysctl", "-qw", "net.ipv4.tcp_retries2=5"],
                       check=True)
        self.edge = self.start_edge()
        self.devices: subprocess.Popen[bytes] | None = None

    def start_edge(self) -> subprocess.Popen[bytes]:
        return self.host.popen([sys.executable, "-m", "gateway.cli.main", "edge", "run", "--site", self.name,
                                "--city", self.city_url, "--state-dir", str(self.state), "--port", str(SITE_PORT),
                                "--district", "futian", "--metrics-port", str(SITE_METRICS)], env=dict(os.environ),
                               log=self.tmp / "edge.log", cwd=ROOT)

    def site_metrics(self) -> dict[str, float]:
        """The site's own /metrics, read from inside the site (the uplink may be down)."""
        code = (f"import httpx; print(httpx.get('http://127.0.0.1:{SITE_METRICS}/metrics', timeout=5).text)")
        text = subprocess.run(["ip", "netns", "exec", self.host.netns, sys.executable, "-c", code],
                              capture_output=True, text=True, timeout=60).stdout
        return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                if line.startswith("urbanops_edge_")}

    def uplink_metric(self) -> float | None:  # what the city's gateway shows operators
        return scrape(f"http://127.0.0.1:{self.http}").get(f'urbanops_edge_uplink_up{{site="{self.name}"}}')

    def stored(self) -> int:
        return scalar(self.db_url, f"SELECT count(*) FROM telemetry WHERE msg_id LIKE '{self.tag}-%'")

    def wait_up(self) -> None:
        wait_gateway_subscribed(self.db_url, self.city.port)
        assert wait_for(lambda: self.watch.state == "1" and self.uplink_metric() == 1, 60, 0.1), \
            (self.tmp / "edge.log").read_text()[-2000:]

    def start_devices(self, n: int, linger_s: float) -> None:
        self.devices = self.host.popen([sys.executable, "-m", "tests.edge.site_devices", "--port", str(SITE_PORT),
                                        "--tag", self.tag, "--n", str(n), "--rate", str(RATE), "--linger-s",
                                        str(linger_s)], env=dict(os.environ), log=self.tmp / "devices.json", cwd=ROOT)

    def devices_report(self) -> dict[str, Any]:
        assert self.devices is not None
        self.devices.wait(240)
        return dict(json.loads((self.tmp / "devices.json").read_text().strip().splitlines()[-1]))

    def counts(self) -> tuple[int, int]:
        with psycopg.connect(self.db_url) as conn:
            row = conn.execute("SELECT count(*), count(DISTINCT msg_id) FROM telemetry WHERE msg_id LIKE %s",
                               (f"{self.tag}-%",)).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def close(self) -> None:
        self.host.clean()
        self.host.mend()
        for proc in (self.devices, self.edge):
            stop_process(proc, 30)
        self.watch.close()
        stop_process(self.gw, 30)
        self.city.stop()


@pytest.fixture()
def site(network: Network, db_url: str, services_root: Path, tmp_path: Path) -> Iterator[Site]:
    s = Site(network, db_url, services_root, tmp_path)
    try:
        s.wait_up()
        yield s
    finally:
        s.close()


def test_site_uplink_cut_for_a_minute_with_a_site_broker_restart(site: Site) -> None:
    tag, host, db_url, city = site.tag, site.host, site.db_url, site.city
    watch, uplink_metric, stored = site.watch, site.uplink_metric, site.stored
    site.start_devices(N, 60)
    assert wait_for(lambda: stored() >= 1000, 60, 0.1), "no telemetry reached the city"
    bytes_before, t_before = host.link_bytes(), time.monotonic()
    host.cut()
    cut = time.monotonic()
    at_cut = stored()
    assert wait_for(lambda: watch.state == "0" and uplink_metric() == 0, 40, 0.2), \
        "the city never saw the bridge go"
    noticed = time.monotonic()
    # A command for the drone, sent while the site is unreachable: the city broker keeps it
    # for the bridge's session.
    command = json.dumps({"msg_id": f"cmd-{tag}", "task": "return_to_dock"})
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cmd-{tag}", protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", city.port)
    pub.loop_start()
    pub.publish(f"city/futian/drone/drone-{tag}/cmd", command, qos=1).wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()
    during = stored()

    time.sleep(max(0.0, cut + OUTAGE_S / 2 - 6 - time.monotonic()))
    early = site.site_metrics()
    time.sleep(max(0.0, cut + OUTAGE_S / 2 - time.monotonic()))
    late = site.site_metrics()
    site.edge.terminate()  # the site broker restarts mid-outage; its queue is on disk
    site.edge.wait(30)
    site.edge = site.start_edge()
    time.sleep(max(0.0, cut + OUTAGE_S - time.monotonic()))
    host.mend()
    mended = time.monotonic()
    backlog_s, backlog = _drain(stored)
    assert wait_for(lambda: watch.state == "1" and uplink_metric() == 1, 60, 0.2), "the bridge never came back"

    report = site.devices_report()
    assert report["acked"].get("telemetry") == N, report
    assert wait_for(lambda: stored() >= N, 120, 0.25), f"stored {stored()} of {N}"
    time.sleep(1.0)  # late redeliveries would show up as extra rows now
    uplink = host.link_bytes() - bytes_before
    elapsed = time.monotonic() - t_before
    total, distinct = site.counts()
    # Per device, stored in the order it sent: the sequence number never goes back.
    out_of_order = len(_out_of_order(db_url, tag))
    print(f"\nedge uplink cut {mended - cut:.0f} s with the site broker restarted at {OUTAGE_S / 2:.0f} s: "
          f"the city showed the uplink down {noticed - cut:.0f} s after the cut; the site's /metrics showed it "
          f"down with {early.get('urbanops_edge_stored_messages')} then {late.get('urbanops_edge_stored_messages')} "
          f"messages held; "
          f"{N} acknowledged by the site, {total} stored, {distinct} distinct, lost {N - distinct}, duplicates "
          f"{total - distinct}, out of device order {out_of_order}; stored during the outage {during - at_cut}; "
          f"the backlog ({backlog} messages) stored within {backlog_s:.1f} s of the link's return; "
          f"command sent in the outage received: "
          f"{report['commands'] == [command]}; frames published {report['frames']} "
          f"({report['frame_bytes'] / 1e6:.1f} MB), at the city {watch.frames}; uplink {uplink / 1e6:.2f} MB "
          f"in {elapsed:.0f} s, {uplink / N:.0f} B per telemetry message "
          f"({report['frame_bytes'] / max(1, uplink):.1f}x less than the raw frames, "
          f"{RATE:.0f} telemetry messages per frame)")
    assert (total, distinct) == (N, N), f"lost {N - distinct}, duplicates {total - distinct}"
    assert during - at_cut < 10 * RATE, "telemetry kept arriving through a cut link"
    # Mosquitto 2.0's bridge drains its queue almost, not quite, in order (a message now and then
    # jumps ~100 ahead; seen by hand too). Rows carry device time, so reads by time are unaffected.
    assert out_of_order <= N // 300, _out_of_order(db_url, tag)
    assert report["commands"] == [command]
    assert early["urbanops_edge_uplink_up"] == late["urbanops_edge_uplink_up"] == 0
    assert 0 < early["urbanops_edge_stored_messages"] < late["urbanops_edge_stored_messages"]
    assert watch.frames == 0 and report["frames"] > 60
    assert uplink < report["frame_bytes"]


def test_site_uplink_losing_a_fifth_of_its_packets(site: Site) -> None:
    """A lossy, not dead, uplink: 20 % of the packets each way dropped at random for 20 s."""
    n = 4_000
    site.start_devices(n, 0)
    assert wait_for(lambda: site.stored() >= 500, 60, 0.1), "no telemetry reached the city"
    before, t0 = site.stored(), time.monotonic()
    site.host.lossy(20)
    time.sleep(20.0)
    during, t1 = site.stored(), time.monotonic()
    site.host.clean()
    report = site.devices_report()
    assert report["acked"].get("telemetry") == n, report
    assert wait_for(lambda: site.stored() >= n, 120, 0.25), f"stored {site.stored()} of {n}"
    time.sleep(1.0)
    total, distinct = site.counts()
    print(f"\nedge uplink dropping 20 % of packets for {t1 - t0:.0f} s: {n} acknowledged by the site, {total} "
          f"stored, {distinct} distinct, lost {n - distinct}, duplicates {total - distinct}; stored "
          f"{(during - before) / (t1 - t0):.0f} msg/s through the lossy link ({RATE:.0f} offered)")
    assert (total, distinct) == (n, n), f"lost {n - distinct}, duplicates {total - distinct}"
