"""Partitioned ingest in one process, against the real broker and database: two gateways'
buses split the partitions evenly, each message reaches exactly one of them, and a clean stop
hands the stopping one's partitions — and what it had received but not acknowledged — to the
other at once; a gateway that loses the broker (but not the database) gives its partitions up."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from datetime import UTC, datetime

from gateway.ingest.bus import BusConfig, Inbound
from gateway.ingest.partitions import PartitionedBus, partitions_of
from gateway.local_services import Mosquitto
from gateway.store.migrate import migrate
from tests.helpers import publish, wait_for


class Gateway:
    def __init__(self, name: str, broker: Mosquitto, db_url: str, *, ack: bool = True, port: int | None = None) -> None:
        # Each test its own districts and sessions (named after the first part of ``name``):
        # sessions persist on the shared broker.
        prefix = name.split("-")[0]
        self.districts = (f"{prefix}1", f"{prefix}2")
        self.received: list[Inbound] = []
        self._lock = threading.Lock()
        self.ack = ack
        self.bus = PartitionedBus(BusConfig(host="127.0.0.1", port=port or broker.port, client_id=name,
                                            backoff_max_s=1.0),
                                  self.on_message, database_url=db_url, partitions=partitions_of(self.districts),
                                  ttl_s=3.0, session_prefix=prefix, worker_id=name)

    def on_message(self, msg: Inbound) -> None:
        with self._lock:
            self.received.append(msg)
        if self.ack:
            self.bus.ack(msg.ack)

    def ids(self) -> set[str]:
        with self._lock:
            return {json.loads(m.payload)["msg_id"] for m in self.received}


def _messages(districts: tuple[str, str], tag: str, n: int) -> list[tuple[str, bytes, None]]:
    kinds = ("sensor", "robot", "drone")
    return [(f"city/{districts[i % 2]}/{kinds[i % 3]}/d{i % 12}/telemetry",
             json.dumps({"ts": datetime.now(UTC).isoformat(), "msg_id": f"{tag}{i}"}).encode(), None)
            for i in range(n)]


def test_partitions_split_and_hand_over_on_a_clean_stop(broker: Mosquitto, db_url: str) -> None:
    migrate(db_url)
    a, b = Gateway("pbus-a", broker, db_url), Gateway("pbus-b", broker, db_url, ack=False)
    a.bus.start()
    try:
        assert wait_for(lambda: len(a.bus.leases.held) == 6 and a.bus.connected, 20, 0.1)
        b.bus.start()
        assert wait_for(lambda: len(a.bus.leases.held) == len(b.bus.leases.held) == 3
                        and a.bus.connected and b.bus.connected, 20, 0.1)
        assert set(a.bus.leases.held).isdisjoint(b.bus.leases.held)
        a.bus.stop()  # a clean stop gives its partitions back at once: b takes all six
        assert wait_for(lambda: len(b.bus.leases.held) == 6 and b.bus.connected, 20, 0.1)
        a = Gateway("pbus-a", broker, db_url)
        a.bus.start()
        assert wait_for(lambda: len(a.bus.leases.held) == len(b.bus.leases.held) == 3
                        and a.bus.connected and b.bus.connected, 20, 0.1)

        publish(broker.port, _messages(a.districts, "m", 600))
        assert wait_for(lambda: len(a.ids() | b.ids()) == 600, 20, 0.1)
        assert a.ids().isdisjoint(b.ids()) and a.ids() and b.ids()  # each partition has one owner

        # b received its share but acknowledged none; stopping it hands those to a.
        unacked = b.ids()
        b.bus.stop()
        assert wait_for(lambda: len(a.bus.leases.held) == 6 and unacked <= a.ids(), 20, 0.1), \
            f"{len(unacked - a.ids())} of b's unacknowledged messages never reached a"
        assert b.bus.stats.acked == 0 and a.bus.stats.received >= 600
    finally:
        a.bus.stop()
        b.bus.stop()


class CuttableLink:
    """A TCP forwarder to the broker that can be cut (open connections closed, new ones refused)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.up = True
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()

    def cut(self) -> None:
        self.up = False
        for s in self._open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._open = []

    def close(self) -> None:
        self.cut()
        self.server.close()


def test_a_gateway_cut_off_from_the_broker_gives_its_partitions_up(broker: Mosquitto, db_url: str) -> None:
    """Its database link is fine, so only its own rule can free its partitions: no broker, no renewal."""
    migrate(db_url)
    link = CuttableLink(broker.port)
    a = Gateway("pcut-a", broker, db_url, port=link.port)
    b = Gateway("pcut-b", broker, db_url)
    a.bus.start()
    b.bus.start()
    try:
        assert wait_for(lambda: len(a.bus.leases.held) == len(b.bus.leases.held) == 3
                        and a.bus.connected and b.bus.connected, 20, 0.1)
        link.cut()
        assert wait_for(lambda: len(b.bus.leases.held) == 6 and b.bus.connected, 20, 0.1), \
            f"b holds {sorted(b.bus.leases.held)}"
        publish(broker.port, _messages(a.districts, "c", 60))
        assert wait_for(lambda: len(b.ids()) == 60, 20, 0.1)
        link.up = True
        assert wait_for(lambda: len(a.bus.leases.held) == len(b.bus.leases.held) == 3
                        and a.bus.connected and b.bus.connected, 30, 0.1), "a did not rejoin"
    finally:
        a.bus.stop()
        b.bus.stop()
        link.close()
