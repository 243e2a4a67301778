"""The ingest benchmark runs end to end (short): it must count every message it offers."""

from __future__ import annotations

import pytest

from gateway.bench_ingest import run_ingest_bench


@pytest.mark.services  # starts its own Mosquitto and PostgreSQL
def test_short_bench_run_counts_everything() -> None:
    result = run_ingest_bench(duration_s=3, rate=1500, workers=[1], publishers=2, baseline_s=2)
    assert result["published"] > 3000
    assert result["lost"] == 0 and result["duplicates"] == 0
    assert result["stored"] == result["published"]
    assert result["baseline_msgs_per_s"] > 0
    assert result["p99_lag_ms"] >= 0
    assert {"msgs_per_s", "published", "stored", "lost", "duplicates", "p99_lag_ms",
            "baseline_msgs_per_s", "workers"} <= result.keys()
