"""Frames during a database outage: what vision finds in them must reach the database once it
returns, like every other observation — and no evidence image may be left without its row,
also when the gateway is SIGKILLed during the outage (the sink journals what waits).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from gateway.local_services import Mosquitto, Postgres, free_port
from gateway.store.migrate import migrate
from gateway.vision_link.sink import DEFAULT_WEIGHTS
from tests.helpers import Publisher, scalar, scrape, start_gateway, wait_for, wait_gateway_subscribed
from tests.vision.scenario import incident_flight

pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="urban weights not built")


@pytest.mark.parametrize("crash", [False, True], ids=["gateway-stays", "gateway-sigkilled"])
def test_vision_observations_made_during_outage_are_stored(broker: Mosquitto, services_root: Path,
                                                           tmp_path: Path, crash: bool) -> None:
    pg = Postgres(services_root / f"outage-vision-pg-{int(crash)}").start()  # its own cluster: this test stops it
    migrate(pg.url)
    port = free_port()
    client_id = f"gw-outage-vision-{int(crash)}"

    def gateway() -> subprocess.Popen[bytes]:
        return start_gateway(broker.url, pg.url, tmp_path / "gw.log", client_id=client_id, http_port=port,
                             extra_env={"URBANOPS_VISION_ENABLED": "true"})

    gw = gateway()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_gateway_subscribed(pg.url, broker.port)
        assert wait_for(lambda: scrape(base).get("urbanops_vision_ready") == 1, 240, 1.0)
        shots = incident_flight()
        pg.stop()
        pub = Publisher(broker.port, f"outage-vision-pub-{time.monotonic_ns()}")
        for shot in shots:
            pub.publish("city/futian/drone/outage-drone-1/frame", shot.jpeg, shot.meta.to_user_properties())
        pub.close()
        assert wait_for(lambda: scrape(base).get("urbanops_vision_processed") == len(shots), 120, 1.0)
        evidence = {p.relative_to(tmp_path / "data").as_posix() for p in (tmp_path / "data").rglob("*.jpg")}
        assert evidence  # vision found the planted incidents while the database was down
        metrics = scrape(base)
        assert metrics.get("urbanops_vision_pending", 0) >= len(evidence), metrics  # waiting, visible
        if crash:
            gw.send_signal(signal.SIGKILL)
            gw.wait(30)
            assert (tmp_path / "data" / "vision-pending.jsonl").is_file()
        pg.start()
        back = time.monotonic()
        if crash:
            gw = gateway()
        paths = ", ".join(f"'{e}'" for e in sorted(evidence))  # our own file names: no quotes in them
        stored = f"SELECT count(DISTINCT evidence_path) FROM observations WHERE evidence_path IN ({paths})"
        assert wait_for(lambda: scalar(pg.url, stored) == len(evidence), 240, 1.0), (
            scalar(pg.url, stored), len(evidence), scrape(base).get("urbanops_vision_db_errors"))
        print("VISION_OUTAGE", {"crash": crash, "observations": len(evidence),
                                "stored_s_after_db_back": round(time.monotonic() - back, 1)})
        # Each once, and handed to triage: the journal is gone and nothing waits.
        assert scalar(pg.url, "SELECT count(*) FROM observations WHERE source = 'vision'") == scalar(
            pg.url, "SELECT count(DISTINCT observation_id) FROM observations WHERE source = 'vision'")
        assert wait_for(lambda: scrape(base).get("urbanops_vision_pending") == 0, 30, 1.0)
        assert not (tmp_path / "data" / "vision-pending.jsonl").exists()
    finally:
        gw.terminate()
        gw.wait(30)
        pg.destroy()
