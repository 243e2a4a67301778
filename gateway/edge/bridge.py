"""The edge site's Mosquitto configuration: a local broker for the site's devices, bridged to
the city broker with Mosquitto's own bridge.

What crosses the uplink is chosen here, by topic, and nothing else can: telemetry, status,
events and ROS 2 messages go up (QoS 1); commands and the district's tickets come down.
Frames are not bridged, so raw camera images never leave the site; the site's vision worker
turns them into observations (device events) that do.

The bridge (two connections, up and down) is a persistent MQTT session on both sides
(``cleansession false``): while the uplink is down the local broker queues what the devices
publish for the city, and the city broker queues the commands sent to the site; both queues
survive a restart of their broker (persistence on), and drain when the link returns (almost
in order: Mosquitto 2.0's bridge lets a message jump ahead now and then). Devices get their PUBACK from the
local broker, so an outage is invisible to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from devices.topics import ROOT

# Device -> city. Frames stay on the site.
UP = ("telemetry", "status", "event", "ros2/#")
DOWN = ("cmd",)


@dataclass(frozen=True)
class EdgeSite:
    site: str  # e.g. "lianhuashan-dock"; names the bridge's sessions
    city_url: str  # mqtt[s]://user:password@host:port of the city broker
    state_dir: Path  # persistence: the queues that must survive a restart
    listen: tuple[str, ...] = ("0.0.0.0",)
    port: int = 1883
    districts: tuple[str, ...] = ("+",)  # the districts the site's devices are in
    ca_file: Path | None = None
    keepalive_s: int = 10
    extra: list[str] = field(default_factory=list)  # more lines (e.g. password_file, acl_file)

    @property
    def bridge_name(self) -> str:
        return f"edge-{self.site}"


def mosquitto_conf(site: EdgeSite) -> str:
    city = urlsplit(site.city_url)
    if city.scheme not in ("mqtt", "mqtts") or not city.hostname:
        raise ValueError(f"the city broker must be mqtt:// or mqtts://host:port, not {site.city_url!r}")
    port = city.port or (8883 if city.scheme == "mqtts" else 1883)
    lines = [f"listener {site.port} {address}" for address in site.listen]
    if not site.extra:
        lines.append("allow_anonymous true")  # a closed site network; with extra lines, their auth decides
    lines += [
        "persistence true",
        f"persistence_location {site.state_dir}/",
        "autosave_interval 1",
        # An outage of hours at a site's rates must not drop anything (default: 1000).
        "max_queued_messages 10000000",
        "max_queued_bytes 0",
        "max_inflight_messages 1000",
        "max_packet_size 16777216",
        "persistent_client_expiration 14d",
        "sys_interval 2",  # the stored-message count (the backlog) every 2 s
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        *site.extra,
        "",
        f"connection {site.bridge_name}",
        f"address {city.hostname}:{port}",
        "bridge_protocol_version mqttv50",
        "cleansession false",
        f"remote_clientid {site.bridge_name}",
        f"local_clientid {site.bridge_name}-local",
        f"keepalive_interval {site.keepalive_s}",
        "restart_timeout 1 10",  # reconnect backoff, seconds
        "start_type automatic",
        # $SYS/broker/connection/edge-{site}/state, 1 or 0, retained on both brokers: the uplink's state.
        "notifications true",
    ]
    lines += _remote(city, site)
    for district in site.districts:
        lines += [f"topic {ROOT}/{district}/+/+/{channel} out 1" for channel in UP]
    # Down: a second connection, MQTT 3.1.1. Mosquitto 2.0's v5 bridge connects with a session
    # expiry of 0, so the city broker would forget what it queued for the site the moment the
    # uplink drops; a 3.1.1 session with clean session off is kept. Commands carry no user
    # properties, so nothing is lost by the older protocol (the up direction needs v5: ROS 2
    # messages carry their type as one).
    lines += [
        "",
        f"connection {site.bridge_name}-down",
        f"address {city.hostname}:{port}",
        "bridge_protocol_version mqttv311",
        "cleansession false",
        f"remote_clientid {site.bridge_name}-down",
        f"local_clientid {site.bridge_name}-down-local",
        f"keepalive_interval {site.keepalive_s}",
        "restart_timeout 1 10",
        "start_type automatic",
        "notifications false",
        *_remote(city, site),
    ]
    for district in site.districts:
        lines += [f"topic {ROOT}/{district}/+/+/{channel} in 1" for channel in DOWN]
        lines.append(f"topic {ROOT}/{district}/tickets in 1")
    return "\n".join(lines) + "\n"


def _remote(city: SplitResult, site: EdgeSite) -> list[str]:
    lines = []
    if city.username:
        lines.append(f"remote_username {unquote(city.username)}")
    if city.password:
        lines.append(f"remote_password {unquote(city.password)}")
    if city.scheme == "mqtts":
        lines.append(f"bridge_cafile {site.ca_file}" if site.ca_file else "bridge_capath /etc/ssl/certs")
    return lines
