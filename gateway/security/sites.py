"""Broker accounts for edge sites (``urbanops devices provision --site S``; gateway/edge/).

A device provisioned for a site connects to the site's broker, not the city's, so its account
and ACL go to ``{out}/sites/{site}/`` (with the site's vision worker account and an
``auth.conf`` to give ``urbanops edge run --extra``). The city broker gets one account per site,
``edge-{site}``, for the site's bridge (both of its connections): it may publish exactly what
the site's devices may publish to the city — their telemetry, status, events and ROS 2
messages, never frames — read their commands and the tickets of their districts, and announce
its own state (Mosquitto's bridge notifications).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from devices.topics import ROOT, Channel

# What a bridge may carry up (gateway/edge/bridge.py UP): the device channels but frames.
BRIDGED = (Channel.TELEMETRY.value, Channel.STATUS.value, Channel.EVENT.value, f"{Channel.ROS2.value}/#")


def bridge_user(site: str) -> str:
    return f"edge-{site}"


def vision_user(site: str) -> str:
    return f"edge-{site}-vision"


def site_dir(out: Path, site: str) -> Path:
    return out / "sites" / site


def bridge_acl(site: str, prefixes: Iterable[str], districts: Iterable[str]) -> list[str]:
    """The city broker's ACL for a site's bridge: ``prefixes`` are its devices' topic prefixes."""
    lines = [f"user {bridge_user(site)}", f"topic write $SYS/broker/connection/{bridge_user(site)}/state"]
    for prefix in sorted(prefixes):
        lines += [f"topic write {prefix}/{ch}" for ch in BRIDGED]
        lines.append(f"topic read {prefix}/{Channel.CMD.value}")
    lines += [f"topic read {ROOT}/{d}/tickets" for d in sorted(set(districts))]
    return lines


def vision_acl(site: str) -> list[str]:
    """The site's own account (``urbanops edge run --local-url``): its vision worker reads the
    site's frames and writes detections as device events; its uplink watch reads the bridge's
    state and the broker's stored-message count."""
    return [f"user {vision_user(site)}", f"topic read {ROOT}/+/+/+/{Channel.FRAME.value}",
            f"topic write {ROOT}/+/+/+/{Channel.EVENT.value}", "topic read $SYS/broker/connection/#",
            "topic read $SYS/broker/store/messages/count"]


def auth_conf(directory: Path) -> str:
    """Lines for the site broker's mosquitto.conf (``urbanops edge run --extra``)."""
    return (f"password_file {directory.resolve() / 'passwd'}\n"
            f"acl_file {directory.resolve() / 'acl'}\n"
            "allow_anonymous false\n")
