"""Issue 5's load proof, short form: 200 live-feed clients and 50 requests/s on the incidents API
against the real app (uvicorn, one process) and a migrated database. The 30 s run and its figures
are in docs/api-load.md.

The bench runs as its own command, as an operator runs it: a server inside the pytest process
would share its interpreter (and the collector's pauses over a heap hundreds of tests have
grown) and measure the test runner, not the API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.bench.api import percentile


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


@pytest.mark.slow
@pytest.mark.services  # starts its own Mosquitto and PostgreSQL
def test_200_feed_clients_and_50_rps_without_errors() -> None:
    cli = Path(sys.executable).with_name("urbanops")
    done = subprocess.run([str(cli), "bench", "api", "--duration", "8", "--clients", "200", "--rps", "50",
                           "--notifies", "3", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(figures))
    assert figures["errors"] == 0, figures["error_samples"]
    assert figures["feed_clients_connected"] == 200
    assert figures["requests"] >= 8 * 50 * 0.95
    assert figures["rps_achieved"] >= 45
    assert figures["feed_deliveries"] == figures["feed_deliveries_expected"] == 3 * 200
    assert figures["api_p95_ms"] is not None and figures["api_p95_ms"] < 250
    assert figures["feed_all_clients_max_ms"] is not None and figures["feed_all_clients_max_ms"] < 1000
