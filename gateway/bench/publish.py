"""How fast the fleet publishes (QoS 1, every PUBACK awaited) to a private local Mosquitto.

    .venv/bin/python -m gateway.bench.publish --sensors 500 --rate 20 --duration 10

Prints one JSON object: msgs/s (wall), and CPU seconds used by the publisher and the broker
(so the cost per message is visible even on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from gateway.local_services import Mosquitto
from simulators.config import FleetConfig
from simulators.fleet import run_fleet


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> dict[str, float | int | str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensors", type=int, default=500)
    ap.add_argument("--robots", type=int, default=10)
    ap.add_argument("--drones", type=int, default=3)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--protocol", default="json", choices=("json", "ros2"))
    ap.add_argument("--paced", action="store_true", help="real time instead of flat out")
    args = ap.parse_args(argv)
    cfg = FleetConfig(sensors=args.sensors, robots=args.robots, drones=args.drones,
                      rate=args.rate, duration_s=args.duration, protocol=args.protocol,
                      pace=args.paced)
    with tempfile.TemporaryDirectory(prefix="urbanops-bench-pub-") as tmp:
        broker = Mosquitto(Path(tmp), persistence=False).start()
        try:
            assert broker.proc is not None
            broker_cpu0, cpu0 = _cpu_s(broker.proc.pid), time.process_time()
            report = run_fleet(cfg, broker.url)
            cpu = time.process_time() - cpu0
            broker_cpu = _cpu_s(broker.proc.pid) - broker_cpu0
        finally:
            broker.stop()
    n = report.total_published
    result: dict[str, float | int | str] = {
        "protocol": args.protocol, "published": n, "unacked": report.unacked,
        "telemetry_values": report.telemetry_values, "wall_s": round(report.wall_s, 2),
        "msgs_per_s": round(report.msgs_per_s), "publisher_cpu_s": round(cpu, 2),
        "publisher_us_per_msg": round(cpu / n * 1e6, 1), "broker_cpu_s": round(broker_cpu, 2),
        "connections": report.connections,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
