"""A drone patrol at an edge site (#15): the site (a network namespace) runs ``urbanops edge run
--vision`` — its broker bridged to the city's and the vision worker on its frames — and a
simulated drone flying the ``drone_survey`` scenario with its patrol camera on. The city (the
root namespace) runs the broker, a gateway with vision off, and the database.

Measured over the patrol: the bytes that crossed the uplink (both directions, the site's link
counters) against the raw frames the drone published at the site (a subscriber there writes
every frame it gets); which planted incidents reached the city as vision observations.
Asserted: no frame crossed, the uplink carried at least 20x less than the raw frames (the
simulated camera's frames are small), and the site's detections arrived as observations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.local_services import Mosquitto, stop_process
from tests.edge.city_watch import CityWatch
from tests.ha.hosts import Network, available, private_network
from tests.helpers import ROOT, scalar, start_gateway, wait_for, wait_gateway_subscribed

UNAVAILABLE = available()
pytestmark = [pytest.mark.slow, pytest.mark.services,
              pytest.mark.skipif(UNAVAILABLE is not None, reason=str(UNAVAILABLE))]

PATROL_S = 60.0
SITE_PORT = 1883


@pytest.fixture()
def network() -> Iterator[Network]:
    with private_network(1) as net:
        yield net


def test_a_patrol_at_the_edge_sends_observations_not_frames(network: Network, db_url: str, services_root: Path,
                                                             tmp_path: Path) -> None:
    tag = f"pa{time.monotonic_ns() % 10**6}"
    site, host = f"dock-{tag}", network.hosts[0]
    city = Mosquitto(services_root / f"city-{tag}", also_listen=(network.gateway_address,)).start()
    gw = start_gateway(city.url, db_url, tmp_path / "gw.log", client_id=f"gw-{tag}",
                       extra_env={"URBANOPS_TRIAGE_ENABLED": "false"})
    watch = CityWatch(city.port, f"edge-{site}")
    env = {**os.environ, "URBANOPS_DATA_DIR": str(services_root / f"edge-data-{tag}")}
    edge = host.popen([sys.executable, "-m", "gateway.cli.main", "edge", "run", "--site", site, "--city",
                       f"mqtt://{network.gateway_address}:{city.port}", "--state-dir",
                       str(services_root / f"edge-{tag}"), "--port", str(SITE_PORT), "--vision"],
                      env=env, log=tmp_path / "edge.log", cwd=ROOT)
    frames_file = tmp_path / "frames.bin"
    procs: list[subprocess.Popen[bytes]] = [edge]
    try:
        wait_gateway_subscribed(db_url, city.port)
        # The site's vision worker is ready once it says so (model loaded, frames subscribed).
        assert wait_for(lambda: "worker " in (tmp_path / "edge.log").read_text(errors="replace"), 300, 0.5), \
            (tmp_path / "edge.log").read_text(errors="replace")[-3000:]
        counter = host.popen(["sh", "-c", f"exec mosquitto_sub -p {SITE_PORT} -t 'city/+/+/+/frame' -N "
                                          f"> {frames_file}"], env=dict(os.environ), log=tmp_path / "sub.log",
                             cwd=ROOT)
        procs.append(counter)
        time.sleep(1.0)  # the counting subscriber is connected
        before = host.link_bytes()
        sim = host.popen([sys.executable, "-m", "gateway.cli.main", "simulate", "--sensors", "0", "--robots", "0",
                          "--drones", "1", "--scenario", "drone_survey", "--frame-interval", "1", "--duration",
                          str(PATROL_S), "--truth", str(tmp_path / "truth.jsonl"), "--run-id", tag,
                          "--mqtt-url", f"mqtt://127.0.0.1:{SITE_PORT}", "--json"],
                         env=env, log=tmp_path / "sim.log", cwd=ROOT)
        procs.append(sim)
        assert sim.wait(PATROL_S * 4) == 0, (tmp_path / "sim.log").read_text(errors="replace")[-3000:]
        time.sleep(3.0)  # the last detections and the bridge's last round trip
        uplink = host.link_bytes() - before
        raw = frames_file.stat().st_size
        frames_at_city = watch.frames
        planted = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines() if line.strip()]
        labels = sorted({str(p.get("label")) for p in planted if p.get("label")})
        assert wait_for(lambda: scalar(db_url, "SELECT count(*) FROM observations WHERE source = 'vision'") > 0,
                        30, 0.5), (tmp_path / "edge.log").read_text(errors="replace")[-3000:]
        seen = sorted({str(r) for r in _labels(db_url)})
        print(f"\nedge patrol {PATROL_S:.0f} s: raw frames {raw / 1e6:.2f} MB at the site, uplink "
              f"{uplink / 1e3:.0f} kB ({raw / max(1, uplink):.0f}x less); vision observations at the city: {seen} "
              f"of planted {labels}")
        assert raw > 0 and frames_at_city == 0
        # The target is 50x against a real camera's stream; the simulated camera sends
        # small frames (640x480, ~16 kB), so the bar here is lower (README: measured 31x).
        assert uplink * 20 <= raw, f"uplink {uplink} B vs raw frames {raw} B"
        assert set(seen) & set(labels), (seen, labels)
    finally:
        for proc in reversed(procs):
            stop_process(proc, 30)
        watch.close()
        stop_process(gw, 30)
        city.stop()


def _labels(db_url: str) -> list[str]:
    import psycopg

    with psycopg.connect(db_url) as conn:
        return [r[0] for r in conn.execute("SELECT DISTINCT label FROM observations WHERE source = 'vision'")]
