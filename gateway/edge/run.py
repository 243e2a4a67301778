"""Running an edge site's broker, and watching its uplink."""

from __future__ import annotations

import logging
import os
import pwd
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.edge.bridge import EdgeSite, mosquitto_conf
from gateway.local_services import stop_process, wait_for_port

log = logging.getLogger(__name__)


class EdgeBroker:
    """The site's Mosquitto, with the bridge; its queues live in ``site.state_dir``."""

    def __init__(self, site: EdgeSite) -> None:
        self.site = site
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def conf_path(self) -> Path:
        return self.site.state_dir / "mosquitto.conf"

    def start(self, timeout_s: float = 15.0) -> EdgeBroker:
        self.site.state_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(mosquitto_conf(self.site))
        self.conf_path.chmod(0o600)  # it holds the bridge's password
        if os.geteuid() == 0:  # Mosquitto started as root runs as "mosquitto": it must own its queues
            try:
                account = pwd.getpwnam("mosquitto")
            except KeyError:
                account = None
            if account is not None:
                for path in (self.site.state_dir, *self.site.state_dir.iterdir()):
                    os.chown(path, account.pw_uid, account.pw_gid)
        log_file = open(self.site.state_dir / "mosquitto.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf_path)], stdout=log_file,
                                     stderr=subprocess.STDOUT)
        wait_for_port(self.site.port, timeout_s)
        return self

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its queues to disk before it exits."""
        stop_process(self.proc)
        self.proc = None


class UplinkWatch(Collector):
    """The bridge's state (Mosquitto's retained ``$SYS/broker/connection/<name>/state``) and the
    local broker's stored-message count (the backlog, roughly), read from the local broker."""

    def __init__(self, site: EdgeSite, local_url: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.site = site
        local = urlsplit(local_url)
        self.host, self.port = local.hostname or "127.0.0.1", local.port or site.port
        self.up: bool | None = None
        self.stored: int | None = None
        self.changes = 0
        self.changed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{site.bridge_name}-watch",
                                  protocol=mqtt.MQTTv5)
        if local.username:
            self.client.username_pw_set(unquote(local.username), unquote(local.password or ""))
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.state_topic = f"$SYS/broker/connection/{site.bridge_name}/state"

    def start(self) -> UplinkWatch:
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Prometheus: the site's own view (``urbanops edge run --metrics-port``)."""
        yield GaugeMetricFamily("urbanops_edge_uplink_up", "1 while this site's bridge to the city is connected",
                                value=1 if self.up else 0)
        yield GaugeMetricFamily("urbanops_edge_stored_messages",
                                "Messages the site broker holds (queued for the city while the uplink is down)",
                                value=self.stored or 0)
        yield GaugeMetricFamily("urbanops_edge_uplink_changes", "Uplink state changes seen", value=self.changes)

    def _on_connect(self, client: Any, *_args: Any) -> None:
        client.subscribe([(self.state_topic, 0), ("$SYS/broker/store/messages/count", 0)])

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        text = bytes(msg.payload).decode(errors="replace").strip()
        if msg.topic == self.state_topic:
            up = text == "1"
            if up != self.up:
                self.up = up
                self.changes += 1
                self.changed.set()
                log.warning("uplink to the city %s", "up" if up else "DOWN: queueing on the site")
        elif text.isdigit():
            self.stored = int(text)
