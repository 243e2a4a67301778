"""Prometheus view of the ingest worker, read at scrape time (no per-message counter cost).

Durations are exported in seconds (``*_seconds``), Prometheus' base unit, so that
``promtool check metrics`` is clean and dashboards need no per-metric scale; the components
keep milliseconds internally (their logs and ``stats()`` read better that way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.ingest.partitions import PartitionedBus
from gateway.ingest.worker import IngestWorker


class IngestCollector(Collector):
    def __init__(self, worker: IngestWorker) -> None:
        self.worker = worker

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        w = self.worker
        ing = w.ingestor
        yield CounterMetricFamily("urbanops_mqtt_received", "MQTT messages received",
                                  value=w.bus.stats.received)
        yield CounterMetricFamily("urbanops_mqtt_acked", "MQTT messages acknowledged after commit",
                                  value=w.bus.stats.acked)
        yield GaugeMetricFamily("urbanops_mqtt_connected", "1 when connected to the broker",
                                value=1 if w.bus.connected else 0)
        if isinstance(w.bus, PartitionedBus):
            held = GaugeMetricFamily("urbanops_ingest_partition_held",
                                     "1 for each ingest partition this gateway holds the lease of",
                                     labels=["partition"])
            for partition in sorted(w.bus.leases.held):
                held.add_metric([partition], 1)
            yield held
            yield CounterMetricFamily("urbanops_ingest_partition_moves", "Ingest partitions gained or lost",
                                      value=w.bus.moves)
        yield CounterMetricFamily("urbanops_store_batches", "Batches committed", value=w.stats.batches)
        yield CounterMetricFamily("urbanops_store_rows", "Rows committed", value=w.stats.rows)
        yield CounterMetricFamily("urbanops_store_write_errors", "Failed batch writes (retried)",
                                  value=w.stats.write_errors)
        yield GaugeMetricFamily("urbanops_store_last_batch_seconds", "Duration of the last batch write",
                                value=w.stats.last_batch_ms / 1000)
        yield GaugeMetricFamily("urbanops_store_up", "1 when the last write succeeded",
                                value=1 if w.stats.db_ok else 0)
        if ing is None:
            return
        c = ing.counters
        yield CounterMetricFamily("urbanops_ingest_messages", "Messages routed", value=c.messages)
        yield CounterMetricFamily("urbanops_ingest_duplicates", "Redeliveries skipped",
                                  value=c.duplicates + w.stats.duplicates)
        yield CounterMetricFamily("urbanops_ingest_clock_skewed", "Messages from skewed clocks",
                                  value=c.clock_skewed)
        yield CounterMetricFamily("urbanops_ingest_implausible", "Physically implausible values",
                                  value=c.implausible)
        yield CounterMetricFamily("urbanops_frames_received", "Frames accepted", value=c.frames)
        yield CounterMetricFamily("urbanops_frames_dropped", "Frames dropped (vision behind)",
                                  value=c.frames_dropped)
        dead = CounterMetricFamily("urbanops_dead_letters", "Messages refused, by reason",
                                   labels=["reason"])
        for reason, n in sorted(c.dead_letters.items()):
            dead.add_metric([reason], n)
        yield dead


def _base_unit(key: str, value: float) -> tuple[str, float]:
    """A ``stats()`` key in milliseconds (``*_ms``) as its Prometheus name and value in seconds."""
    if key.endswith("_ms"):
        return key[:-3] + "_seconds", value / 1000
    return key, value


class StatsCollector(Collector):
    """Numeric entries of a component's ``stats()`` dict as gauges ``urbanops_{prefix}_{key}``
    (vision backlog and drops, triage counts): read at scrape time. Millisecond entries
    (``latency_p95_ms``) are exported in seconds (``latency_p95_seconds``)."""

    def __init__(self, prefix: str, stats: Callable[[], dict[str, Any]]) -> None:
        self.prefix = prefix
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for key, value in sorted(self.stats().items()):
            if isinstance(value, bool):
                value = int(value)
            if isinstance(value, int | float) and value == value:  # skip NaN (no samples yet)
                name, value = _base_unit(key, value)
                yield GaugeMetricFamily(f"urbanops_{self.prefix}_{name}", f"{self.prefix} {name}", value=value)
