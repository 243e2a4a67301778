"""Several "hosts" on this machine: network namespaces, each with its own address on a private
bridge that the root namespace (broker, database, devices) also sits on.

A host can lose its link (the bridge port goes down: packets vanish, no FIN or RST reaches
anyone) and come back, or disappear altogether (link down, then every process in it SIGKILLed:
to the broker and the database its connections simply go silent).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Host:
    netns: str
    port: str  # the bridge side of its veth: what a cut takes down
    address: str
    inside: str = ""  # its own side of the veth

    def lossy(self, percent: int) -> None:
        """Drop ``percent`` % of the packets crossing its link, each way, at random (nftables)."""
        rules = "\n".join([
            "table inet uoloss {",
            "  chain out {", "    type filter hook output priority 0;",
            f'    oifname "{self.inside}" numgen random mod 100 < {percent} drop', "  }",
            "  chain in {", "    type filter hook input priority 0;",
            f'    iifname "{self.inside}" numgen random mod 100 < {percent} drop', "  }",
            "}", ""])
        subprocess.run(["ip", "netns", "exec", self.netns, "nft", "-f", "-"], input=rules, check=True,
                       capture_output=True, text=True)

    def clean(self) -> None:
        """No more packet loss."""
        subprocess.run(["ip", "netns", "exec", self.netns, "nft", "delete", "table", "inet", "uoloss"],
                       capture_output=True, text=True)

    def popen(self, args: Sequence[str], *, env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["ip", "netns", "exec", self.netns, *args], env=env, cwd=cwd,
                                stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def cut(self) -> None:
        _ip("link", "set", self.port, "down")

    def mend(self) -> None:
        _ip("link", "set", self.port, "up")

    def link_bytes(self) -> int:
        """Bytes that crossed its link, both ways, so far (the bridge side's counters)."""
        stats = Path(f"/sys/class/net/{self.port}/statistics")
        return int((stats / "rx_bytes").read_text()) + int((stats / "tx_bytes").read_text())

    def pids(self) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def kill(self) -> None:
        """The host disappears: its link first (so nothing says goodbye), then its processes."""
        self.cut()
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@dataclass
class Network:
    bridge: str
    gateway_address: str  # the root namespace's address on the bridge
    cidr: str
    hosts: list[Host]


def available() -> str | None:
    """Why network namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        _ip("netns", "list")
    except (OSError, subprocess.CalledProcessError) as err:
        return f"no iproute2 netns: {err}"
    return None


def _free_subnet() -> int:
    used = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
    for _ in range(100):
        third = random.randrange(1, 250)
        if f" 10.213.{third}." not in used:
            return third
    raise RuntimeError("no free 10.213.x.0/24 subnet")


@contextlib.contextmanager
def private_network(n_hosts: int) -> Iterator[Network]:
    tag = f"{os.getpid() % 10000:04d}"
    third = _free_subnet()
    bridge = f"uo{tag}br"
    net = Network(bridge, f"10.213.{third}.1", f"10.213.{third}.0/24", [])
    made: list[Any] = []
    try:
        _ip("link", "add", bridge, "type", "bridge")
        made.append(("link", bridge))
        _ip("addr", "add", f"{net.gateway_address}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for i in range(n_hosts):
            inside = f"uo{tag}e{i}"
            host = Host(f"uo{tag}h{i}", f"uo{tag}p{i}", f"10.213.{third}.{10 + i}", inside)
            _ip("netns", "add", host.netns)
            made.append(("netns", host.netns))
            _ip("link", "add", host.port, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", host.netns)
            _ip("link", "set", host.port, "master", bridge, "up")
            for args in (("addr", "add", f"{host.address}/24", "dev", inside), ("link", "set", inside, "up"),
                         ("link", "set", "lo", "up")):
                _ip("netns", "exec", host.netns, "ip", *args)
            net.hosts.append(host)
        yield net
    finally:
        for host in net.hosts:
            with contextlib.suppress(subprocess.CalledProcessError):
                host.kill()
        for kind, name in reversed(made):
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip(*(("netns", "del", name) if kind == "netns" else ("link", "del", name)))
