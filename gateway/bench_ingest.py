"""``urbanops bench ingest``: sustained telemetry ingest on this machine, loss counted.

Everything runs here: a private Mosquitto and PostgreSQL+TimescaleDB, publisher processes,
and 1..N gateway processes sharing one MQTT v5 shared subscription. In the same run a naive
consumer (one INSERT and commit per message) is measured as the baseline.

Lag: a sampler polls the newest visible device timestamp every 50 ms; each sample's
``wall clock - newest visible ts`` is how far the store trails the publishers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from gateway.local_services import Mosquitto, Postgres
from gateway.store.migrate import migrate

PUBLISHER_DEVICES = 8


def _publish(broker: Mosquitto, rate: float, duration_s: float, devices: int, prefix: str
             ) -> dict[str, int]:
    """Offer ``rate`` msg/s of QoS 1 telemetry for ``duration_s`` from ``devices`` devices.

    Values are an ordinary day's (pm25 10-60 µg/m³, below every alarm level): the bench
    measures ingest, not a storm of threshold crossings. Each device is a ``mosquitto_pub -l``
    process (the C client, so the load generator does not eat the CPU the gateway is measured
    on) fed one JSON line per message, timestamped when it is written.
    """
    procs = [
        subprocess.Popen(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "5", "-q", "1",
             "-M", "1000", "-i", f"{prefix}-pub-{d}", "-l",
             "-t", f"city/bench/sensor/{prefix}-{d:04d}/telemetry"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for d in range(devices)
    ]
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < duration_s:
        due = int(elapsed * rate)
        if due > sent:
            ts = datetime.now(UTC).isoformat()
            chunks: list[list[str]] = [[] for _ in procs]
            for seq in range(sent, due):
                chunks[seq % devices].append(
                    f'{{"ts":"{ts}","msg_id":"{seq}","metrics":{{"pm25":{10 + seq % 50}.5}}}}\n')
            for proc, lines in zip(procs, chunks, strict=True):
                assert proc.stdin is not None
                proc.stdin.write("".join(lines).encode())
                proc.stdin.flush()
            sent = due
        time.sleep(0.005)
    failed = 0
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    for proc in procs:  # each exits once every message it read is acknowledged
        failed += proc.wait(120) != 0
    return {"published": sent, "publisher_failures": failed}


def _count(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT (device_id, msg_id)) FROM telemetry").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


def _sample_lag(url: str, stop: threading.Event, samples: list[float]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.wait(0.05):
            row = conn.execute(
                "SELECT max(ts) FROM telemetry WHERE ts > now() - interval '30 seconds'").fetchone()
            if row and row[0] is not None:
                samples.append((datetime.now(UTC) - row[0]).total_seconds() * 1000)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _wait_stored(url: str, expected: int, quiet_s: float = 5.0, limit_s: float = 180) -> tuple[int, int, float]:
    """Wait until ``expected`` rows are stored or nothing new arrives for ``quiet_s``."""
    last, last_change, start = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - start < limit_s:
        rows, distinct = _count(url)
        if rows != last:
            last, last_change = rows, time.monotonic()
        if rows >= expected or time.monotonic() - last_change > quiet_s:
            return rows, distinct, time.monotonic()
        time.sleep(0.1)
    rows, distinct = _count(url)
    return rows, distinct, time.monotonic()


def run_gateways(broker: Mosquitto, db: Postgres, workers: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    # Several processes split the load through one shared subscription group.
    env = {**os.environ, "URBANOPS_MQTT_URL": broker.url, "URBANOPS_DATABASE_URL": db.url,
           "URBANOPS_MQTT_SHARE_GROUP": f"bench{workers}", "URBANOPS_TRIAGE_ENABLED": "false",
           "URBANOPS_DATA_DIR": str(log_dir / "data")}
    procs = []
    for i in range(workers):
        log = open(log_dir / f"gateway-{i}.log", "wb")  # noqa: SIM115 - owned by the child
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "gateway", "--no-http", "--client-id", f"bench-gw{workers}-{i}"],
            env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def measure_gateway(broker: Mosquitto, db: Postgres, workers: int, rate: float, duration_s: float,
                    publishers: int, log_dir: Path) -> dict[str, Any]:
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("TRUNCATE telemetry, devices")
    procs = run_gateways(broker, db, workers, log_dir)
    try:
        time.sleep(3.0)  # connect and subscribe before publishing
        stop, samples = threading.Event(), []  # type: ignore[var-annotated]
        sampler = threading.Thread(target=_sample_lag, args=(db.url, stop, samples), daemon=True)
        started = time.monotonic()
        sampler.start()
        pub = _publish(broker, rate, duration_s, publishers, f"w{workers}")
        rows, distinct, done = _wait_stored(db.url, pub["published"])
        stop.set()
        sampler.join()
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)
    elapsed = done - started
    return {
        "workers": workers, "published": pub["published"],
        "publisher_failures": pub["publisher_failures"],
        "stored": distinct, "lost": pub["published"] - distinct, "duplicates": rows - distinct,
        "seconds": round(elapsed, 2), "msgs_per_s": round(distinct / elapsed, 1),
        "p50_lag_ms": round(_percentile(samples, 0.5), 1), "p99_lag_ms": round(_percentile(samples, 0.99), 1),
    }


def _naive_consumer(port: int, url: str, stop: threading.Event, counter: list[int]) -> None:
    """The baseline: parse, INSERT, commit, per message."""
    conn = psycopg.connect(url)

    def on_message(client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        data = json.loads(msg.payload)
        device_id = msg.topic.split("/")[3]
        for metric, value in data["metrics"].items():
            conn.execute("INSERT INTO telemetry (ts, device_id, metric, value, msg_id, received_at)"
                         " VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT DO NOTHING",
                         (data["ts"], device_id, metric, value, data["msg_id"]))
        conn.commit()
        counter[0] += 1

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-naive", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe("city/+/+/+/telemetry", qos=1)
    while not stop.is_set():
        client.loop(0.05)
    client.disconnect()
    conn.close()


def measure_baseline(broker: Mosquitto, db: Postgres, duration_s: float) -> float:
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("TRUNCATE telemetry")
    stop, counter = threading.Event(), [0]
    thread = threading.Thread(target=_naive_consumer, args=(broker.port, db.url, stop, counter))
    thread.start()
    time.sleep(1.0)
    start = time.monotonic()
    publisher = threading.Thread(target=_publish, args=(broker, 3000, duration_s, 2, "naive"))
    publisher.start()
    time.sleep(duration_s)
    stored = counter[0]
    elapsed = time.monotonic() - start
    stop.set()
    thread.join(30)
    publisher.join(300)
    return stored / elapsed


def run_ingest_bench(duration_s: float, rate: float, workers: list[int], publishers: int,
                     baseline_s: float, progress: Any = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="urbanops-bench-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        broker = Mosquitto(root / "mqtt").start()
        db = Postgres(root / "pg").start()
        try:
            migrate(db.url)
            results = []
            for n in workers:
                if progress:
                    progress(f"{n} gateway process(es), {rate:.0f} msg/s for {duration_s:.0f}s")
                results.append(measure_gateway(broker, db, n, rate, duration_s, publishers, root))
            if progress:
                progress(f"naive baseline for {baseline_s:.0f}s")
            baseline = measure_baseline(broker, db, baseline_s)
        finally:
            broker.stop()
            db.destroy()
    best = max(results, key=lambda r: r["msgs_per_s"])
    return {
        **{k: best[k] for k in ("msgs_per_s", "published", "stored", "lost", "duplicates",
                                "p99_lag_ms", "workers")},
        "baseline_msgs_per_s": round(baseline, 1),
        "speedup": round(best["msgs_per_s"] / baseline, 1) if baseline else None,
        "target_rate": rate, "duration_s": duration_s, "runs": results,
    }
