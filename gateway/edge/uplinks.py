"""The city's view of its edge sites' uplinks: each site's bridge announces its state on the
city broker (Mosquitto's retained ``$SYS/broker/connection/edge-{site}/state``: 1 when it
connects, 0 — its last will — when the connection is lost), and the gateway keeps the latest."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

STATE_TOPIC = "$SYS/broker/connection/+/state"
PREFIX = "edge-"  # gateway/edge/bridge.py: EdgeSite.bridge_name


@dataclass
class Uplink:
    up: bool
    since: datetime  # when this gateway saw it change (or first saw it)
    changes: int = 0


class SiteUplinks(Collector):
    """Subscribes on the city broker; a Prometheus collector of what it saw."""

    def __init__(self, host: str, port: int, client_id: str, username: str | None = None,
                 password: str | None = None, tls: bool = False, ca_file: str | None = None) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.sites: dict[str, Uplink] = {}
        self._lock = threading.Lock()
        self.host, self.port = host, port
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=ca_file)
        self.client.on_connect = lambda c, *_a: c.subscribe(STATE_TOPIC, qos=0)
        self.client.on_message = self._on_message

    def start(self) -> SiteUplinks:
        self.client.connect_async(self.host, self.port)  # the broker may come later; paho retries
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        name = msg.topic.split("/")[3] if msg.topic.count("/") == 4 else ""
        if not name.startswith(PREFIX) or name.endswith("-down"):
            return  # another broker's bridge, or a site's downlink (it sends no notifications)
        site, up = name[len(PREFIX):], bytes(msg.payload).strip() == b"1"
        with self._lock:
            known = self.sites.get(site)
            if known is None or known.up != up:
                self.sites[site] = Uplink(up, datetime.now(UTC), (known.changes + 1) if known else 0)
                if known is not None:
                    log.warning("edge site %s: uplink %s", site, "up" if up else "DOWN")

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        with self._lock:
            sites = dict(self.sites)
        up = GaugeMetricFamily("urbanops_edge_uplink_up", "1 while an edge site's bridge to the city is connected",
                               labels=["site"])
        changes = CounterMetricFamily("urbanops_edge_uplink_changes", "Edge site uplink state changes seen",
                                      labels=["site"])
        since = GaugeMetricFamily("urbanops_edge_uplink_since_seconds",
                                  "Unix time of the edge site's last uplink change seen", labels=["site"])
        for site, link in sorted(sites.items()):
            up.add_metric([site], 1 if link.up else 0)
            changes.add_metric([site], link.changes)
            since.add_metric([site], link.since.timestamp())
        yield up
        yield changes
        yield since
