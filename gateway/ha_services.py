"""A private highly available database: etcd plus PostgreSQL+TimescaleDB nodes run by Patroni.

Used by the failover tests and ``urbanops bench``-style experiments on one machine; production
runs the same Patroni configuration on separate hosts (``deploy/ha/``). Each node has its own
directory and free ports, and the cluster is torn down on exit like ``local_services``.

Replication is synchronous (Patroni's ``synchronous_mode``): a commit returns only when the
standby has the WAL too, so a transaction the gateway saw commit — and then acknowledged to the
broker — survives losing the primary. Clients connect with a multi-host URL and
``target_session_attrs=read-write``, so libpq finds whichever node is primary now.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from gateway.local_services import PG_BIN, ServiceError, _run_as, free_port, stop_process, wait_for_port

# The deployment's Patroni settings (timeouts, synchronous replication, parameters, rewind):
# the tests run them as shipped, with only names, ports, paths and authentication replaced.
DEPLOY_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "ha" / "patroni.yml"


@dataclass
class Etcd:
    """A one-member etcd, the cluster's distributed configuration store (leader lock)."""

    root: Path
    client_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self) -> Etcd:
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["etcd", "--name", "ha-etcd", "--data-dir", str(self.root / "data"),
             "--listen-client-urls", f"http://{self.endpoint}",
             "--advertise-client-urls", f"http://{self.endpoint}",
             "--listen-peer-urls", f"http://127.0.0.1:{self.peer_port}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_port}",
             "--initial-cluster", f"ha-etcd=http://127.0.0.1:{self.peer_port}",
             "--enable-v2=true"],
            stdout=(self.root / "etcd.log").open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.client_port, 30)
        return self

    def stop(self) -> None:
        stop_process(self.proc)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(stat.parent.name))
    return out


@dataclass
class PatroniNode:
    """One PostgreSQL node under Patroni. ``kill`` is losing the host: Patroni, the
    postmaster and every backend SIGKILLed at once, nothing flushed or handed over."""

    root: Path
    name: str
    scope: str
    etcd: str
    superuser: str = "urbanops"
    os_user: str | None = "postgres"
    pg_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def config(self) -> dict[str, Any]:
        """The deployment's Patroni file with this machine's names, ports, paths and trust."""
        conf: dict[str, Any] = yaml.safe_load(DEPLOY_CONFIG.read_text())
        conf["bootstrap"].pop("post_bootstrap", None)  # ``PatroniCluster.start`` creates the database
        conf.update({
            "scope": self.scope, "name": self.name,
            "log": {"dir": str(self.root), "level": "INFO"},
            "restapi": {"listen": f"127.0.0.1:{self.api_port}",
                        "connect_address": f"127.0.0.1:{self.api_port}"},
            "etcd3": {"hosts": [self.etcd]},
        })
        conf["postgresql"].update({
            "listen": f"127.0.0.1:{self.pg_port}",
            "connect_address": f"127.0.0.1:{self.pg_port}",
            "data_dir": str(self.data_dir), "bin_dir": str(PG_BIN),
            "pgpass": str(self.root / "pgpass"),
            "authentication": {"superuser": {"username": self.superuser},
                               "rewind": {"username": self.superuser},
                               "replication": {"username": "replicator"}},
            "parameters": {"unix_socket_directories": str(self.root)},
            "pg_hba": ["local all all trust", "host all all 127.0.0.1/32 trust",
                       "host replication all 127.0.0.1/32 trust"],
        })
        return conf

    def start(self) -> PatroniNode:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "patroni.yml"
        conf.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        if os.geteuid() == 0 and self.os_user:
            shutil.chown(self.root, self.os_user, self.os_user)
            shutil.chown(conf, self.os_user, self.os_user)
        self.proc = subprocess.Popen(
            [*_run_as(self.os_user), "patroni", str(conf)],
            stdout=(self.root / "patroni.out").open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def status(self) -> dict[str, Any] | None:
        """Patroni's own view of the node (role, state), or None when it does not answer."""
        with contextlib.suppress(OSError, ValueError), \
                urllib.request.urlopen(f"{self.api}/patroni", timeout=2) as resp:
            body: dict[str, Any] = json.loads(resp.read())
            return body
        return None

    def postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        return None

    def kill(self) -> None:
        pids = []
        if self.proc is not None:
            pids.append(self.proc.pid)
        pm = self.postmaster_pid()
        if pm is not None:
            pids += [pm, *_children(pm)]
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # runuser and Patroni
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # Patroni stops PostgreSQL (fast) before it exits
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        pm = self.postmaster_pid()
        if pm is not None:  # a postmaster left behind by a killed Patroni
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pm, signal.SIGQUIT)


@dataclass
class PatroniCluster:
    """``nodes`` PostgreSQL nodes in one Patroni scope over a private etcd."""

    root: Path
    nodes: int = 2
    database: str = "urbanops"
    scope: str = "urbanops"
    etcd: Etcd | None = None
    members: list[PatroniNode] = field(default_factory=list)

    def start(self, timeout_s: float = 120.0) -> PatroniCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        self.etcd = Etcd(self.root / "etcd").start()
        self.members = [PatroniNode(self.root / f"node{i + 1}", f"node{i + 1}", self.scope,
                                    self.etcd.endpoint) for i in range(self.nodes)]
        # The first node bootstraps alone; the others then copy it (pg_basebackup).
        self.members[0].start()
        leader = self.wait_leader(timeout_s)
        with psycopg.connect(self.node_url(leader, "postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (self.database,)).fetchone():
                conn.execute(f'CREATE DATABASE "{self.database}"')
        for node in self.members[1:]:
            node.start()
        self.wait_sync_standby(timeout_s)
        return self

    @property
    def url(self) -> str:
        """The URL clients use: every node, and libpq picks the one that takes writes."""
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in self.members)
        return f"postgresql://urbanops@{hosts}/{self.database}?target_session_attrs=read-write&connect_timeout=3"

    @property
    def read_url(self) -> str:
        """A URL that prefers a standby: for reads that may lag (see README, reliability)."""
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in self.members)
        return f"postgresql://urbanops@{hosts}/{self.database}?target_session_attrs=prefer-standby&connect_timeout=3"

    def node_url(self, node: PatroniNode, database: str | None = None) -> str:
        return f"postgresql://urbanops@127.0.0.1:{node.pg_port}/{database or self.database}"

    def leader(self) -> PatroniNode | None:
        for node in self.members:
            st = node.status()
            if st and st.get("role") in ("master", "primary") and st.get("state") == "running":
                return node
        return None

    def wait_leader(self, timeout_s: float, exclude: PatroniNode | None = None) -> PatroniNode:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            node = self.leader()
            if node is not None and node is not exclude:
                return node
            time.sleep(0.2)
        raise ServiceError(f"no Patroni leader after {timeout_s:.0f}s; see {self.root}/*/patroni.out")

    def sync_standbys(self) -> list[str]:
        leader = self.leader()
        if leader is None:
            return []
        with contextlib.suppress(psycopg.Error), psycopg.connect(self.node_url(leader), connect_timeout=3) as conn:
            rows = conn.execute("SELECT application_name FROM pg_stat_replication "
                                "WHERE sync_state = 'sync' AND state = 'streaming'").fetchall()
            return [str(r[0]) for r in rows]
        return []

    def wait_sync_standby(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.sync_standbys():
                return
            time.sleep(0.3)
        raise ServiceError(f"no synchronous standby after {timeout_s:.0f}s; see {self.root}/*/patroni.out")

    def stop(self) -> None:
        for node in self.members:
            node.stop()
        if self.etcd is not None:
            self.etcd.stop()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def patroni_cluster(root: Path, nodes: int = 2) -> Iterator[PatroniCluster]:
    cluster = PatroniCluster(root, nodes)
    try:
        yield cluster.start()
    finally:
        cluster.destroy()
