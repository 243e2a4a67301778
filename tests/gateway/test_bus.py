"""The gateway's own MQTT v5 client against the real broker, and its wire codec."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gateway.ingest import wire
from gateway.ingest.bus import BusConfig, Inbound, MqttAuthError, MqttBus
from gateway.local_services import Mosquitto
from tests.helpers import publish, wait_for


def test_varint_limits() -> None:
    for n in (0, 127, 128, 16383, 16384, 2_097_151, 268_435_455):
        assert wire.read_varint(wire.varint(n), 0) == (n, len(wire.varint(n)))
    assert wire.read_varint(b"\x80", 0) is None  # incomplete
    with pytest.raises(wire.ProtocolError):
        wire.read_varint(b"\x80\x80\x80\x80\x01", 0)


def test_publish_round_trip_and_partial_reads() -> None:
    pkt = wire.publish("city/a/sensor/s1/frame", b"\xff\xd8 jpeg", qos=1, packet_id=513,
                       user_properties=[("ts", "2026-11-28T00:00:00Z"), ("lat", "22.5")])
    buf = bytearray(pkt + pkt[:5])
    packets, used = wire.split_packets(buf)
    assert used == len(pkt) and len(packets) == 1
    p = wire.parse_publish(packets[0].flags, packets[0].body)
    assert (p.topic, p.payload, p.qos, p.packet_id) == ("city/a/sensor/s1/frame", b"\xff\xd8 jpeg", 1, 513)
    assert p.user_properties == [("ts", "2026-11-28T00:00:00Z"), ("lat", "22.5")]


def _bus(port: int, received: list[Inbound], client_id: str, district: str = "x", **kw: object) -> MqttBus:
    # Each test its own district: other tests' traffic on the shared broker stays out.
    def handler(msg: Inbound) -> None:
        received.append(msg)

    bus = MqttBus(BusConfig(host="127.0.0.1", port=port, client_id=client_id,
                            subscriptions=[f"$share/t/city/{district}/#"], **kw), handler)  # type: ignore[arg-type]
    return bus


def test_unacked_messages_are_redelivered_to_the_next_session(broker: Mosquitto) -> None:
    first: list[Inbound] = []
    bus = _bus(broker.port, first, "bus-redeliver", "redeliver")
    bus.start()
    props = [("ts", "2026-11-28T00:00:00Z")]
    publish(broker.port, [(f"city/redeliver/sensor/s{i}/telemetry", b"m%d" % i, props) for i in range(50)])
    assert wait_for(lambda: len(first) == 50, 10)
    assert first[0].user_properties == props
    bus.ack_many([m.ack for m in first[:20]])  # acknowledge only the first 20
    wait_for(lambda: bus.stats.acked == 20, 5)
    bus.stop()

    second: list[Inbound] = []
    bus2 = _bus(broker.port, second, "bus-redeliver", "redeliver")
    bus2.start()
    try:
        assert wait_for(lambda: len(second) >= 30, 10)
        assert sorted(m.payload for m in second) == sorted(m.payload for m in first[20:])
        assert all(m.dup for m in second)
        assert bus2.stats.stale_acks == 0
        bus2.ack_many([m.ack for m in second])
    finally:
        bus2.stop()


@pytest.mark.services  # starts its own Mosquitto
def test_reconnects_after_broker_restart(tmp_path: Path) -> None:
    mq = Mosquitto(tmp_path / "mq").start()
    got: list[Inbound] = []
    bus = _bus(mq.port, got, "bus-restart", backoff_min_s=0.05, backoff_max_s=0.5)
    bus.start()
    try:
        mq.stop()
        assert wait_for(lambda: not bus.connected, 5)
        mq.start()
        assert wait_for(lambda: bus.connected, 15)
        assert bus.stats.connects == 2
        publish(mq.port, [("city/x/sensor/s1/telemetry", b"after", None)])
        assert wait_for(lambda: [m.payload for m in got] == [b"after"], 10)
    finally:
        bus.stop()
        mq.stop()


@pytest.mark.services  # starts its own Mosquitto
def test_stops_on_auth_failure(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "gateway", "right"], check=True)
    mq = Mosquitto(tmp_path / "mq", extra_conf=["allow_anonymous false", f"password_file {passwd}"]).start()
    try:
        bus = _bus(mq.port, [], "bus-auth", username="gateway", password="wrong")
        with pytest.raises(MqttAuthError):
            bus.start(wait_s=5)
        thread = bus._thread
        assert thread is not None and wait_for(lambda: not thread.is_alive(), 5)  # it gave up, no retry loop
        ok = _bus(mq.port, [], "bus-auth-ok", username="gateway", password="right")
        ok.start(wait_s=5)
        ok.stop()
    finally:
        mq.stop()


def test_a_bus_whose_gate_is_shut_stays_off_its_session(broker: Mosquitto) -> None:
    """The fence of partitioned ingest: the broker closes the old connection when another comes
    with the same client id; the old bus, its lease lapsed (gate shut), does not take it back."""
    first: list[Inbound] = []
    gate = [True]
    old = MqttBus(BusConfig(host="127.0.0.1", port=broker.port, client_id="bus-takeover",
                            subscriptions=["city/takeover/#"]), first.append, may_connect=lambda: gate[0])
    old.start()
    gate[0] = False  # as if its lease had not been renewed in time
    second: list[Inbound] = []
    new = MqttBus(BusConfig(host="127.0.0.1", port=broker.port, client_id="bus-takeover",
                            subscriptions=["city/takeover/#"]), second.append)
    new.start()
    try:
        assert wait_for(lambda: not old.connected, 10)
        publish(broker.port, [("city/takeover/sensor/s1/telemetry", b"m", None)])
        assert wait_for(lambda: len(second) == 1, 10) and first == []
        assert not wait_for(lambda: old.connected or new.stats.disconnects > 0, 1.5, 0.05), "the old bus came back"
        gate[0] = True  # and with the gate open again it connects (here: takes the session back)
        assert wait_for(lambda: old.connected, 10)
    finally:
        new.stop()
        old.stop()
