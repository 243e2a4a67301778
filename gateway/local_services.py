"""Private Mosquitto and PostgreSQL+TimescaleDB instances for the demo and the tests.

Each instance lives in its own directory on its own free port and is torn down on exit, so
nothing touches the machine's shared services and several runs can go side by side.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path(os.environ.get("URBANOPS_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ServiceError(RuntimeError):
    """A private service failed to start."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise ServiceError(f"nothing listens on 127.0.0.1:{port} after {timeout_s:.0f}s")


def stop_process(proc: subprocess.Popen[bytes] | None, timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout_s``."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _run_as(user: str | None) -> list[str]:
    # PostgreSQL refuses to run as root; the machine's postgres account runs it instead.
    if user is None or os.geteuid() != 0:
        return []
    return ["runuser", "-u", user, "--"]


@dataclass
class Mosquitto:
    """A private Mosquitto broker. ``extra_conf`` lines are appended to its config."""

    root: Path
    port: int = field(default_factory=free_port)
    extra_conf: list[str] = field(default_factory=list)
    persistence: bool = True
    max_queued_messages: int = 1_000_000
    # More addresses to listen on beside 127.0.0.1 (a bridge that test hosts in network
    # namespaces reach the broker through).
    also_listen: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            *[f"listener {self.port} {address}" for address in self.also_listen],
            "allow_anonymous true" if not self.extra_conf else "",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.root}/",
            "autosave_interval 1",
            # A gateway restart or a burst must not drop QoS 1 messages (default is 1000).
            f"max_queued_messages {self.max_queued_messages}",
            "max_inflight_messages 20000",
            "max_packet_size 16777216",
            "persistent_client_expiration 1d",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        conf.write_text("\n".join([*filter(None, lines), *self.extra_conf]) + "\n")
        return conf

    def start(self) -> Mosquitto:
        conf = self.write_config()
        log = open(self.root / "mosquitto.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


@dataclass
class Postgres:
    """A private PostgreSQL cluster with TimescaleDB preloaded."""

    root: Path
    port: int = field(default_factory=free_port)
    user: str = "urbanops"
    database: str = "urbanops"
    os_user: str | None = "postgres"
    # A private network (CIDR) whose hosts may connect too, on its ``also_listen`` address:
    # test hosts in network namespaces.
    also_listen: tuple[str, ...] = ()
    trust_network: str | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "pgdata"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _owned(self, path: Path) -> None:
        if os.geteuid() == 0 and self.os_user:
            pw = pwd.getpwnam(self.os_user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_run_as(self.os_user), *args], check=check, capture_output=True, text=True
        )

    def start(self) -> Postgres:
        self.root.mkdir(parents=True, exist_ok=True)
        self._owned(self.root)
        fresh = not (self.datadir / "PG_VERSION").exists()
        if fresh:
            self._cmd(str(PG_BIN / "initdb"), "-D", str(self.datadir), "-U", self.user,
                      "-A", "trust", "-E", "UTF8", "--no-sync")
            with open(self.datadir / "postgresql.conf", "a") as conf:
                conf.write(
                    "\nshared_preload_libraries = 'timescaledb'\n"
                    "timescaledb.telemetry_level = off\n"
                    f"listen_addresses = '{','.join(('127.0.0.1', *self.also_listen))}'\n"
                    f"unix_socket_directories = '{self.root}'\n"
                    "fsync = on\nsynchronous_commit = on\n"
                    "max_connections = 100\nshared_buffers = 256MB\n"
                    "timescaledb.max_background_workers = 4\n"
                )
            if self.trust_network:
                with open(self.datadir / "pg_hba.conf", "a") as hba:
                    hba.write(f"\nhost all all {self.trust_network} trust\n")
        result = self._cmd(
            str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.root / "pg.log"),
            "-o", f"-p {self.port}", "-w", "-t", "60", "start", check=False,
        )
        if result.returncode != 0:
            log = (self.root / "pg.log").read_text()[-2000:] if (self.root / "pg.log").exists() else ""
            raise ServiceError(f"postgres did not start: {result.stderr}\n{log}")
        if fresh:
            self._cmd(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                      "-U", self.user, self.database)
        return self

    def stop(self) -> None:
        self._cmd(str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w",
                  "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_services(root: Path, keep: bool = False) -> Iterator[tuple[Mosquitto, Postgres]]:
    """Start a broker and a database under ``root``; stop (and remove) them on exit."""
    broker = Mosquitto(root / "mosquitto").start()
    db = Postgres(root / "postgres")
    try:
        db.start()
        yield broker, db
    finally:
        broker.stop()
        if keep:
            db.stop()
        else:
            db.destroy()
            shutil.rmtree(root / "mosquitto", ignore_errors=True)
