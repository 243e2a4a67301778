"""``urbanops bench scale --json``: the capacity model's per-unit costs come from one real run
(private broker and database, the default triage backend, the default vision runtime), and
each figure follows from what was measured."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_bench_scale_measures_every_unit() -> None:
    out = subprocess.run([sys.executable, "-m", "gateway.cli.main", "bench", "scale", "--duration", "4",
                          "--vision-s", "4", "--json"], capture_output=True, text=True, timeout=600, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    run = r["ingest_run"]
    assert run["lost"] == 0 and run["duplicates"] == 0 and run["stored"] > 0
    assert r["gateway_msgs_per_core_s"] == round(1e6 / run["cpu_us_per_msg"], 0)
    assert r["db_rows_per_core_s"] == round(1e6 / run["db_cpu_us_per_msg"], 0)
    assert r["gateway_msgs_per_core_s"] > 100 and r["db_rows_per_core_s"] > 100
    assert r["triage_backend"] == "learned" and r["triage_tickets_per_worker_s"] > 1
    assert r["triage_run"]["tickets"] >= 230  # the whole dev set at least once
    assert r["vision_fps_per_worker"] > 0 and r["vision_run"]["runtime"] == r["vision_runtime"]
