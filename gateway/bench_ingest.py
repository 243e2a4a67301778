"""``urbanops bench ingest``: sustained telemetry ingest on this machine, loss counted.

Everything runs here: a private Mosquitto and PostgreSQL+TimescaleDB, publisher processes,
and 1..N gateway processes sharing one MQTT v5 shared subscription. In the same run a naive
consumer (one INSERT and commit per message) is measured as the baseline.

Lag: a sampler polls the newest visible device timestamp every 50 ms; each sample's
``wall clock - newest visible ts`` is how far the store trails the publishers.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from gateway.local_services import Mosquitto, Postgres
from gateway.store.migrate import migrate

DEVICES_PER_PUBLISHER = 200


@dataclass
class PublishPlan:
    url_port: int
    index: int
    rate: float  # messages/s for this publisher
    duration_s: float
    prefix: str


def _publisher(plan: PublishPlan, out: Any) -> None:
    """Publish QoS 1 telemetry at ``plan.rate`` for ``plan.duration_s``; report acks."""
    acked = 0
    lock = threading.Lock()

    def on_publish(client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        nonlocal acked
        with lock:
            acked += 1

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{plan.prefix}-pub-{plan.index}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", plan.url_port)
    client.loop_start()
    topics = [f"city/bench/sensor/{plan.prefix}-{plan.index}-{d:04d}/telemetry"
              for d in range(DEVICES_PER_PUBLISHER)]
    start = time.monotonic()
    sent = 0
    seq = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= plan.duration_s:
            break
        due = int(elapsed * plan.rate) + 1
        while sent < due:
            ts = datetime.now(UTC).isoformat()
            topic = topics[seq % DEVICES_PER_PUBLISHER]
            payload = ('{"ts":"%s","msg_id":"%d","metrics":{"pm25":%d.5}}' % (ts, seq, seq % 300))
            client.publish(topic, payload, qos=1)
            seq += 1
            sent += 1
        time.sleep(0.002)
    deadline = time.monotonic() + 120
    while acked < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    out.put({"published": sent, "acked": acked, "seconds": time.monotonic() - start})


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


def _publish(broker: Mosquitto, rate: float, duration_s: float, publishers: int, prefix: str
             ) -> dict[str, int]:
    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    procs = [ctx.Process(target=_publisher, args=(
        PublishPlan(broker.port, i, rate / publishers, duration_s, prefix), out)) for i in range(publishers)]
    for p in procs:
        p.start()
    results = [out.get(timeout=duration_s + 180) for _ in procs]
    for p in procs:
        p.join(10)
    return {"published": sum(r["published"] for r in results), "acked": sum(r["acked"] for r in results)}


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
    env = {**os.environ, "URBANOPS_MQTT_URL": broker.url, "URBANOPS_DATABASE_URL": db.url}
    procs = []
    for i in range(workers):
        log = open(log_dir / f"gateway-{i}.log", "wb")  # noqa: SIM115 - owned by the child
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "gateway", "--no-http", "--client-id", f"bench-gw-{i}"],
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
        "workers": workers, "published": pub["published"], "acked_by_broker": pub["acked"],
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
    publisher = threading.Thread(target=_publish, args=(broker, 3000, duration_s, 1, "naive"))
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
