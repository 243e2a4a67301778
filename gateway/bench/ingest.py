"""``urbanops bench ingest``: sustained telemetry ingest on this machine, loss counted.

Everything runs here: a private Mosquitto and PostgreSQL+TimescaleDB, publisher processes,
and 1..N gateway processes sharing one MQTT v5 shared subscription. In the same run a naive
consumer (one INSERT and commit per message) is measured as the baseline.

Lag: a sampler polls, every 50 ms, the newest visible device timestamp of the publishing
device furthest behind; each sample's ``wall clock - that ts`` is how far the store trails
the publishers.

Saturation (``rate=None``): the publishers offer as much as they can but hold back while the
newest visible message is more than ``SATURATION_LAG_S`` older than the newest offered one, so
the backlog stays bounded and the stored
rate is what the whole machine sustains; then a second run offers a fixed fraction of that
(80 %) and its lag is the one reported: lag at saturation only measures the backlog.

CPU: each gateway process's user+system time (``/proc/PID/stat``, its threads included) from
the first message offered to the last one stored, per stored message; the broker's and the
database's in the same window, for scale.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from gateway.local_services import Mosquitto, Postgres
from gateway.store.migrate import migrate

PUBLISHER_DEVICES = 8
SATURATION_RATE = 100_000.0  # offered while finding saturation: above anything two cores store
SATURATION_LAG_S = 1.0
SATURATION_BURST = 500  # messages offered at most per publishing tick (5 ms) while saturating
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def _tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants (a postmaster and its backends)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += _proc_cpu_s(pid)
        todo.extend(children.get(pid, []))
    return total


def _postmaster_pid(db: Postgres) -> int:
    return int((db.datadir / "postmaster.pid").read_text().split()[0])


@dataclass
class Gate:
    """What the publisher has offered, for the lag sampler; when saturating (``hold_back``) the
    sampler holds the publisher while the store is too far behind."""

    hold_back: bool = False
    held: threading.Event = field(default_factory=threading.Event)
    newest_offered: datetime | None = None
    finished: bool = False  # nothing more will be offered
    caught_up: float | None = None  # monotonic time the last offered message was first seen stored


def _publish(broker: Mosquitto, rate: float, duration_s: float, devices: int, prefix: str,
             gate: Gate | None = None) -> dict[str, int]:
    """Offer ``rate`` msg/s of QoS 1 telemetry for ``duration_s`` from ``devices`` devices;
    while ``gate`` is held nothing new is offered (the store is too far behind).

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
    gate = gate or Gate()
    start = last = time.monotonic()
    sent, credit = 0, 0.0
    while (now := time.monotonic()) - start < duration_s:
        if not gate.hold_back:
            credit += (now - last) * rate  # a fixed rate catches up after a slow write
        elif not gate.held.is_set():
            # Saturating: at most a tick's worth, or a write blocked on a full pipe would
            # be followed by a burst far past what the hold is there to bound.
            credit = min(credit + (now - last) * rate, SATURATION_BURST)
        last = now
        due = sent + int(credit)
        if due > sent:
            credit -= due - sent
            offered = datetime.now(UTC)
            ts = offered.isoformat()
            chunks: list[list[str]] = [[] for _ in procs]
            for seq in range(sent, due):
                chunks[seq % devices].append(
                    f'{{"ts":"{ts}","msg_id":"{seq}","metrics":{{"pm25":{10 + seq % 50}.5}}}}\n')
            for proc, lines in zip(procs, chunks, strict=True):
                assert proc.stdin is not None
                proc.stdin.write("".join(lines).encode())
                proc.stdin.flush()
            sent = due
            gate.newest_offered = offered
        time.sleep(0.005)
    gate.finished = True
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


# The newest visible message of the device furthest behind (an index probe per device): the
# publishers drain unevenly, and the newest row overall would hide the slowest's backlog.
NEWEST_VISIBLE = """SELECT min((SELECT max(ts) FROM telemetry t WHERE t.device_id = d AND t.metric = 'pm25'
                              AND ts > now() - interval '60 seconds')) FROM unnest(%s::text[]) AS d"""


def _sample_lag(url: str, stop: threading.Event, samples: list[float], devices: list[str], gate: Gate) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.wait(0.05):
            row = conn.execute(NEWEST_VISIBLE, (devices,)).fetchone()
            if row and row[0] is not None:
                if gate.finished and gate.newest_offered is not None and row[0] >= gate.newest_offered:
                    # All visible and nothing more coming: from here on the clock alone would
                    # add to the "lag" while the bench waits for the count to settle.
                    gate.caught_up = gate.caught_up or time.monotonic()
                    continue
                lag_ms = (datetime.now(UTC) - row[0]).total_seconds() * 1000
                samples.append(lag_ms)
                # Behind the newest offered message, not the clock: while held, nothing new is
                # offered and the clock alone would keep it held.
                if gate.hold_back and gate.newest_offered is not None:
                    if (gate.newest_offered - row[0]).total_seconds() > SATURATION_LAG_S:
                        gate.held.set()
                    else:
                        gate.held.clear()


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
            [sys.executable, "-m", "gateway.cli.main", "gateway", "--no-http", "--client-id", f"bench-gw{workers}-{i}"],
            env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def measure_gateway(broker: Mosquitto, db: Postgres, workers: int, rate: float, duration_s: float,
                    publishers: int, log_dir: Path, saturate: bool = False) -> dict[str, Any]:
    """One run: ``rate`` msg/s offered for ``duration_s`` (``saturate``: held back while the
    store trails by more than ``SATURATION_LAG_S``), then drained; counted in the database."""
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("TRUNCATE telemetry, devices")
    procs = run_gateways(broker, db, workers, log_dir)
    try:
        time.sleep(3.0)  # connect and subscribe before publishing
        stop, samples = threading.Event(), []  # type: ignore[var-annotated]
        gate = Gate(hold_back=saturate)
        prefix = f"w{workers}"
        device_ids = [f"{prefix}-{d:04d}" for d in range(publishers)]
        sampler = threading.Thread(target=_sample_lag, args=(db.url, stop, samples, device_ids, gate), daemon=True)
        assert broker.proc is not None
        pids, broker_pid, postmaster = [p.pid for p in procs], broker.proc.pid, _postmaster_pid(db)
        cpu0 = [_proc_cpu_s(pid) for pid in pids]
        broker0, db0 = _proc_cpu_s(broker_pid), _tree_cpu_s(postmaster)
        started = time.monotonic()
        sampler.start()
        pub = _publish(broker, rate, duration_s, publishers, prefix, gate)
        rows, distinct, done = _wait_stored(db.url, pub["published"])
        # Before anything exits: a process's CPU time is readable only while it lives.
        gateway_cpu = sum(_proc_cpu_s(pid) - c0 for pid, c0 in zip(pids, cpu0, strict=True))
        broker_cpu, db_cpu = _proc_cpu_s(broker_pid) - broker0, _tree_cpu_s(postmaster) - db0
        stop.set()
        sampler.join()
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)
    # Until the last offered message was seen stored (within a 50 ms sample), not until the
    # slower count confirms it.
    elapsed = (gate.caught_up or done) - started
    per_msg = 1e6 / max(distinct, 1)
    return {
        "workers": workers, "offered_rate": rate, "saturate": saturate, "published": pub["published"],
        "publisher_failures": pub["publisher_failures"],
        "stored": distinct, "lost": pub["published"] - distinct, "duplicates": rows - distinct,
        "seconds": round(elapsed, 2), "msgs_per_s": round(distinct / elapsed, 1),
        "p50_lag_ms": round(_percentile(samples, 0.5), 1), "p99_lag_ms": round(_percentile(samples, 0.99), 1),
        "cpu_us_per_msg": round(gateway_cpu * per_msg, 2), "gateway_cpu_s": round(gateway_cpu, 2),
        "broker_cpu_us_per_msg": round(broker_cpu * per_msg, 2),
        "db_cpu_us_per_msg": round(db_cpu * per_msg, 2),
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


def _measure_setup(broker: Mosquitto, db: Postgres, n: int, rate: float | None, lag_fraction: float,
                   duration_s: float, publishers: int, root: Path, progress: Any) -> dict[str, Any]:
    """One gateway count: a fixed ``rate``, or saturation and then ``lag_fraction`` of it."""
    def say(text: str) -> None:
        if progress:
            progress(f"{n} gateway process(es): {text}")

    if rate is not None:
        say(f"{rate:.0f} msg/s for {duration_s:.0f}s")
        run = measure_gateway(broker, db, n, rate, duration_s, publishers, root)
        return {**run, "lag_rate": rate, "runs": [run]}
    say(f"saturation for {duration_s:.0f}s")
    sat = measure_gateway(broker, db, n, SATURATION_RATE, duration_s, publishers, root, saturate=True)
    lag_rate = round(sat["msgs_per_s"] * lag_fraction)
    say(f"lag at {lag_fraction:.0%} of {sat['msgs_per_s']:.0f} = {lag_rate} msg/s for {duration_s:.0f}s")
    at = measure_gateway(broker, db, n, lag_rate, duration_s, publishers, root)
    # Throughput and CPU from saturation, lag from the run below it; loss from both.
    return {**sat, "lag_rate": lag_rate, "p50_lag_ms": at["p50_lag_ms"], "p99_lag_ms": at["p99_lag_ms"],
            "lost": sat["lost"] + at["lost"], "duplicates": sat["duplicates"] + at["duplicates"],
            "runs": [sat, at]}


def run_ingest_bench(duration_s: float, rate: float | None, workers: list[int], publishers: int,
                     baseline_s: float, progress: Any = None, lag_fraction: float = 0.8) -> dict[str, Any]:
    """``rate=None``: find each setup's saturation, then measure lag at ``lag_fraction`` of it."""
    with tempfile.TemporaryDirectory(prefix="urbanops-bench-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        broker = Mosquitto(root / "mqtt").start()
        db = Postgres(root / "pg").start()
        try:
            migrate(db.url)
            setups = [_measure_setup(broker, db, n, rate, lag_fraction, duration_s, publishers, root, progress)
                      for n in workers]
            if progress:
                progress(f"naive baseline for {baseline_s:.0f}s")
            baseline = measure_baseline(broker, db, baseline_s)
        finally:
            broker.stop()
            db.destroy()
    best = max(setups, key=lambda r: r["msgs_per_s"])
    return {
        **{k: best[k] for k in ("msgs_per_s", "published", "stored", "lost", "duplicates",
                                "p50_lag_ms", "p99_lag_ms", "workers", "cpu_us_per_msg", "lag_rate")},
        "baseline_msgs_per_s": round(baseline, 1),
        "speedup": round(best["msgs_per_s"] / baseline, 1) if baseline else None,
        "target_rate": rate if rate is not None else "saturation",
        "lag_fraction": lag_fraction if rate is None else None,
        "duration_s": duration_s, "runs": [run for setup in setups for run in setup["runs"]],
    }
