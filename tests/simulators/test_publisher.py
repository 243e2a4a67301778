"""The MQTT publisher against a real (private) Mosquitto: exact delivery and per-channel
counts, the broker's Receive Maximum, reconnect with resend, last will, credentials."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from devices.encoding import Publish
from gateway.local_services import Mosquitto, free_port
from simulators.publisher import MqttPublisher, PublisherError

from .fleet_util import Collector, run_tag, wait_for

CHANNELS = ("telemetry", "event", "status")


def _pubs(tag: str, n: int, device: str = "aq-0001") -> list[Publish]:
    out = []
    for i in range(n):
        ch = CHANNELS[i % 3] if i % 10 == 0 else "telemetry"
        body = {"ts": "2026-11-28T00:00:00Z", "msg_id": f"{device}-{tag}-{i}", "metrics": {"pm25": i}}
        out.append(Publish(f"city/futian/sensor/{device}/{ch}", json.dumps(body).encode(),
                           retain=ch == "status"))
    return out


@pytest.fixture()
def tag() -> str:
    return run_tag()


def test_every_publish_arrives_once_and_is_counted(broker: Mosquitto, tag: str) -> None:
    col = Collector(broker.port, tag)
    pub = MqttPublisher(broker.url, max_inflight=16)  # a small window: publish() must wait
    a, b = pub.add_link("a", f"t-{tag}-a"), pub.add_link("b", f"t-{tag}-b")
    pub.connect()
    sent = _pubs(tag, 3000, "aq-0001") + _pubs(tag, 1000, "aq-0002")
    for i, p in enumerate(sent):
        pub.publish(a if "aq-0001" in p.topic else b, p)
        assert a.inflight <= 16 and b.inflight <= 16
        if i % 500 == 0:
            pub.poll(0)
    pub.flush(10)
    assert pub.inflight == 0
    expected = Counter(p.topic.rsplit("/", 1)[1] for p in sent)
    assert dict(pub.acked) == dict(expected) == dict(pub.sent)
    assert wait_for(lambda: len(col.snapshot()) >= len(sent), 10)
    got = col.snapshot()
    assert sorted((m.topic, m.payload) for m in got) == sorted((p.topic, p.payload) for p in sent)
    pub.close()
    col.close()


@pytest.mark.services  # starts its own Mosquitto
def test_window_follows_the_brokers_receive_maximum(tmp_path: Path, tag: str) -> None:
    mq = Mosquitto(tmp_path / "mq", extra_conf=["allow_anonymous true",
                                                "max_inflight_messages 5"]).start()
    try:
        pub = MqttPublisher(mq.url, max_inflight=1000)
        link = pub.add_link("a", f"t-{tag}")
        pub.connect()
        assert link.window == 5
        for p in _pubs(tag, 300):
            pub.publish(link, p)
            assert link.inflight <= 5
        pub.flush(10)
        assert sum(pub.acked.values()) == 300 and pub.reconnects == 0
        pub.close()
    finally:
        mq.stop()


def test_dropped_connection_reconnects_and_resends(broker: Mosquitto, tag: str) -> None:
    col = Collector(broker.port, tag)
    pub = MqttPublisher(broker.url, backoff=(0.05, 0.2))
    link = pub.add_link("a", f"t-{tag}")
    pub.connect()
    sent = _pubs(tag, 2000)
    for i, p in enumerate(sent):
        pub.publish(link, p)
        if i == 700:
            pub.kill(link)  # unacknowledged messages are in flight right now
    pub.flush(20)
    assert pub.reconnects == 1 and link.connects == 2
    assert sum(pub.acked.values()) == len(sent)
    want = {p.payload for p in sent}
    assert wait_for(lambda: {m.payload for m in col.snapshot()} >= want, 10)
    pub.close()
    col.close()


def _presence(tag: str) -> tuple[str, Callable[[int], Publish],
                                 Callable[[int], list[Publish]]]:
    topic = "city/futian/robot/robot-77/status"

    def status(state: str, mid: str) -> Publish:
        body = {"ts": "2026-11-28T00:00:00Z", "msg_id": f"robot-77-{tag}-{mid}", "state": state}
        return Publish(topic, json.dumps(body).encode(), retain=True)

    def on_connect(n: int) -> list[Publish]:  # as the fleet does: the stream has the first
        return [status("online", f"re{n}")] if n > 1 else []

    return topic, lambda n: status("offline", f"will{n}"), on_connect


def test_last_will_marks_the_device_offline(broker: Mosquitto, tag: str) -> None:
    topic, will, on_connect = _presence(tag)
    col = Collector(broker.port, tag)
    pub = MqttPublisher(broker.url, backoff=(60.0, 60.0))
    link = pub.add_link("robot-77", f"t-{tag}", will=will, on_connect=on_connect)
    pub.connect()
    pub.publish(link, Publish(topic, json.dumps(
        {"ts": "2026-11-28T00:00:00Z", "msg_id": f"robot-77-{tag}-1", "state": "online"}
    ).encode(), retain=True))
    pub.flush(5)
    pub.kill(link)  # no DISCONNECT: the broker must publish the will

    def states() -> list[str]:
        return [json.loads(m.payload)["state"] for m in col.snapshot()]

    assert wait_for(lambda: states() == ["online", "offline"], 10), states()
    retained = Collector(broker.port, tag, topic=topic, retained=True)
    assert wait_for(lambda: len(retained.snapshot()) == 1, 5)
    (kept,) = retained.snapshot()
    assert kept.retain and json.loads(kept.payload)["msg_id"] == f"robot-77-{tag}-will0"
    retained.close()
    # Back online: the reconnect republishes the status the will overwrote.
    def polled(cond: Callable[[], bool]) -> Callable[[], bool]:
        def check() -> bool:
            pub.poll(0.02)
            return cond()
        return check

    assert wait_for(polled(lambda: not link.connected), 5)
    link.next_attempt = 0.0  # instead of the 60 s backoff
    assert wait_for(polled(lambda: link.connects == 2), 10)
    pub.flush(5)
    assert wait_for(lambda: states() == ["online", "offline", "online"], 10), states()
    pub.close()  # graceful: no will this time
    assert not wait_for(lambda: len(states()) > 3, 1.0)
    col.close()


@pytest.mark.services  # starts its own Mosquitto
def test_credentials_come_from_the_url(tmp_path: Path, tag: str) -> None:
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "sim", "s3cret"], check=True)
    passwd.chmod(0o644)
    mq = Mosquitto(tmp_path / "mq", extra_conf=[f"password_file {passwd}"]).start()
    try:
        good = MqttPublisher(f"mqtt://sim:s3cret@127.0.0.1:{mq.port}")
        link = good.add_link("a", f"t-{tag}")
        good.connect()
        good.publish(link, _pubs(tag, 1)[0])
        good.flush(5)
        good.close()
        for url in (f"mqtt://sim:wrong@127.0.0.1:{mq.port}", f"mqtt://127.0.0.1:{mq.port}"):
            bad = MqttPublisher(url)
            bad.add_link("a", f"t-{tag}-bad")
            with pytest.raises(PublisherError, match=r"refused a: (Not authorized|Bad user)"):
                bad.connect(timeout=5)
            bad.close()
    finally:
        mq.stop()


def test_unreachable_broker_is_a_clear_error() -> None:
    pub = MqttPublisher(f"mqtt://127.0.0.1:{free_port()}", connect_timeout=2)
    pub.add_link("a", "t-nobody")
    with pytest.raises(PublisherError, match=r"cannot connect to 127\.0\.0\.1"):
        pub.connect()
    with pytest.raises(PublisherError, match="unsupported MQTT URL scheme 'http'"):
        MqttPublisher("http://127.0.0.1:1883")




@pytest.mark.services  # starts its own Mosquitto
def test_pubacks_with_a_failure_reason_count_as_rejected(tmp_path: Path, tag: str) -> None:
    acl = tmp_path / "acl"
    acl.write_text("topic write city/futian/sensor/aq-0001/#\n")
    mq = Mosquitto(tmp_path / "mq", extra_conf=["allow_anonymous true", f"acl_file {acl}"]).start()
    try:
        pub = MqttPublisher(mq.url)
        link = pub.add_link("a", f"t-{tag}")
        pub.connect()
        for p in _pubs(tag, 10, "aq-0001") + _pubs(tag, 5, "aq-0002"):
            pub.publish(link, p)
        pub.flush(5)
        assert sum(pub.acked.values()) == 10 and sum(pub.rejected.values()) == 5
        assert link.rejected == 5 and pub.inflight == 0
        pub.close()
    finally:
        mq.stop()


def test_keepalive_keeps_idle_connections_up(broker: Mosquitto, tag: str) -> None:
    """Presence links are idle for whole runs: the loop's PINGREQs keep them connected,
    while a client whose loop does not run is dropped by the broker (within ~6 s here).
    Keepalive 2 s for the live one, not 1 s: a loaded 2-core CI machine can stall a 1 s ping past
    the broker's 1.5 s. The idle one has 1 s, so its 7.5 s of silence is five times what the broker
    allows: with 2 s it was once still connected when first polled, and the poll's ping revived it."""
    alive, idle = MqttPublisher(broker.url, keepalive=2), MqttPublisher(broker.url, keepalive=1)
    a, b = alive.add_link("a", f"t-{tag}-a"), idle.add_link("b", f"t-{tag}-b")
    alive.connect()
    idle.connect()

    def polled(pub: MqttPublisher, cond: Callable[[], bool]) -> Callable[[], bool]:
        def check() -> bool:
            pub.poll(0.05)
            return cond()
        return check

    assert not wait_for(polled(alive, lambda: not a.connected), 7.5)
    assert wait_for(polled(idle, lambda: not b.connected), 10.0)
    assert alive.reconnects == 0 and a.connects == 1
    alive.close()
    idle.close()
