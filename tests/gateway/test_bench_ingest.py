"""The ingest benchmark runs end to end (short): it must count every message it offers."""

from __future__ import annotations

import pytest

from gateway.bench.ingest import run_ingest_bench


@pytest.mark.services  # starts its own Mosquitto and PostgreSQL
def test_short_bench_run_counts_everything() -> None:
    result = run_ingest_bench(duration_s=3, rate=1500, workers=[1], publishers=2, baseline_s=2)
    assert result["published"] > 3000
    assert result["lost"] == 0 and result["duplicates"] == 0
    assert result["stored"] == result["published"]
    assert result["baseline_msgs_per_s"] > 0
    assert result["p99_lag_ms"] >= 0
    assert {"msgs_per_s", "published", "stored", "lost", "duplicates", "p50_lag_ms", "p99_lag_ms",
            "baseline_msgs_per_s", "workers", "cpu_us_per_msg"} <= result.keys()  # SPEC §6
    assert result["cpu_us_per_msg"] > 0  # the gateway's own CPU, read while it runs


@pytest.mark.services
def test_saturation_mode_measures_lag_below_saturation() -> None:
    result = run_ingest_bench(duration_s=3, rate=None, workers=[1], publishers=2, baseline_s=1)
    saturation, below = result["runs"]
    assert saturation["saturate"] and not below["saturate"]
    assert below["offered_rate"] == round(saturation["msgs_per_s"] * 0.8)
    assert result["p99_lag_ms"] == below["p99_lag_ms"] and result["msgs_per_s"] == saturation["msgs_per_s"]
    assert result["lost"] == 0 and result["duplicates"] == 0
