"""Per-device broker accounts against the real Mosquitto: a device publishes and reads only
its own topics, anonymous and wrong credentials are refused, and the gateway's account
carries traffic end to end into TimescaleDB."""

from __future__ import annotations

import itertools
import json
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.ingest.bus import BusConfig, MqttAuthError, MqttBus
from gateway.local_services import Mosquitto
from gateway.security.provision import provision, read_credentials
from tests.hardening.conftest import SecureBroker, secure_conf
from tests.hardening.mqtt_probe import accepted, connect, settle
from tests.helpers import scalar, start_gateway, wait_for

NOT_AUTHORIZED = 0x87
_ids = itertools.count()


def telemetry(msg_id: str) -> bytes:
    return json.dumps({"ts": datetime.now(UTC).isoformat(), "msg_id": msg_id, "metrics": {"battery_pct": 50}}).encode()


def test_device_cannot_publish_as_another_device(secure_broker: SecureBroker, db_url: str, tmp_path: Path) -> None:
    sb = secure_broker
    me, other = sb.devices("drone", "futian")
    sensor = sb.devices("sensor", "luohu")[0]
    gw = start_gateway(sb.url("gateway"), db_url, tmp_path / "gw.log", client_id=f"gw-acl-{next(_ids)}")
    dev = connect(sb.port, me.username, me.password, client_id=me.username)
    try:
        assert accepted(dev)
        # The gateway account is live once a message of ours is stored.
        assert wait_for(lambda: dev.publish(f"{me.topic_prefix}/telemetry", telemetry("ok-first")) < 0x80
                        and wait_for(lambda: _stored(db_url, "ok-first"), 2.0), 30), (tmp_path / "gw.log").read_text()
        spoofs = {
            "another device's telemetry": f"{other.topic_prefix}/telemetry",
            "another device's status": f"{other.topic_prefix}/status",
            "another kind and district": f"{sensor.topic_prefix}/event",
            "own id in another district": f"city/luohu/drone/{me.username}/telemetry",
            "own id as another kind": f"city/futian/robot/{me.username}/telemetry",
            "a command to itself": f"{me.topic_prefix}/cmd",
            "a command to another device": f"{other.topic_prefix}/cmd",
            "a ticket": "city/futian/tickets",
            "outside the namespace": "spoof/telemetry",
        }
        refused = {what: dev.publish(topic, telemetry(f"spoof-{i}")) for i, (what, topic) in enumerate(spoofs.items())}
        # QoS 0 has no PUBACK to refuse with: the broker drops it silently.
        dev.publish(f"{other.topic_prefix}/telemetry", telemetry("spoof-q0"), qos=0)
        assert refused == dict.fromkeys(spoofs, NOT_AUTHORIZED)
        # MQTT keeps one publisher's order to a subscriber: once this later message is stored,
        # anything the broker had forwarded before it would be stored (or dead-lettered) too.
        assert dev.publish(f"{me.topic_prefix}/telemetry", telemetry("ok-last")) < 0x80
        assert wait_for(lambda: _stored(db_url, "ok-last"), 20)
        assert scalar(db_url, "SELECT count(*) FROM telemetry WHERE msg_id LIKE 'spoof-%'") == 0
        assert scalar(db_url, "SELECT count(*) FROM events WHERE msg_id LIKE 'spoof-%'") == 0
        assert scalar(db_url, "SELECT count(*) FROM device_status WHERE msg_id LIKE 'spoof-%'") == 0
        assert scalar(db_url, "SELECT count(*) FROM dead_letters WHERE payload_excerpt LIKE '%spoof-%'") == 0
        assert scalar(db_url, f"SELECT count(*) FROM devices WHERE device_id <> '{me.username}'") == 0
        print(f"\nACL: {len(spoofs)} spoofed QoS 1 publishes -> PUBACK 0x87 each; 0 reached TimescaleDB")
    finally:
        dev.close()
        gw.terminate()
        gw.wait(20)


def _stored(db_url: str, msg_id: str) -> bool:
    return scalar(db_url, f"SELECT count(*) FROM telemetry WHERE msg_id = '{msg_id}'") > 0


def test_device_reads_only_its_own_commands(secure_broker: SecureBroker) -> None:
    sb = secure_broker
    me, other = sb.devices("drone", "futian")
    gw = connect(sb.port, "gateway", sb.creds["gateway"].password, client_id=f"gw-cmd-{next(_ids)}")
    mine = connect(sb.port, me.username, me.password, client_id=f"{me.username}-r")
    theirs = connect(sb.port, other.username, other.password, client_id=f"{other.username}-r")
    try:
        # Mosquitto 2.0 grants the SUBSCRIBE and filters on delivery: nothing arrives.
        for topic in (f"{other.topic_prefix}/cmd", "city/#", "#", "city/futian/tickets", "$SYS/#"):
            mine.subscribe(topic)
        mine.subscribe(f"{me.topic_prefix}/cmd")
        theirs.subscribe(f"{other.topic_prefix}/cmd")
        assert gw.publish(f"{other.topic_prefix}/cmd", b'{"action":"hover"}') < 0x80
        assert gw.publish("city/futian/tickets", b"{}") < 0x80
        assert gw.publish(f"{me.topic_prefix}/cmd", b'{"action":"return_home"}') < 0x80
        assert wait_for(lambda: f"{me.topic_prefix}/cmd" in mine.topics(), 5)
        assert wait_for(lambda: theirs.topics() == [f"{other.topic_prefix}/cmd"], 5)
        settle(0.3)
        assert set(mine.topics()) == {f"{me.topic_prefix}/cmd"}, mine.topics()
        # Nor may a device read what other devices publish.
        assert theirs.publish(f"{other.topic_prefix}/telemetry", b"{}") < 0x80
        settle(0.3)
        assert set(mine.topics()) == {f"{me.topic_prefix}/cmd"}
    finally:
        for p in (gw, mine, theirs):
            p.close()


def test_anonymous_and_wrong_credentials_are_refused(secure_broker: SecureBroker) -> None:
    sb = secure_broker
    me, other = sb.devices("drone", "futian")
    attempts = {
        "anonymous": (None, None),
        "wrong password": (me.username, "not-the-password"),
        "another device's password": (me.username, other.password),
        "gateway name, device password": ("gateway", me.password),
        "unknown user": ("drone-futian-9999", me.password),
    }
    codes = {}
    for what, (user, password) in attempts.items():
        probe = connect(sb.port, user, password, client_id=f"bad-{next(_ids)}")
        probe.close()
        codes[what] = probe.connack
    # Mosquitto 2.0.11 answers 0x87 (not authorized) to all of them, 0x86 would do as well.
    assert all(code in (0x86, NOT_AUTHORIZED) for code in codes.values()), codes
    print("\nrefused CONNACKs:", {k: hex(v or 0) for k, v in codes.items()})
    # The gateway's own client stops instead of hammering the broker.
    bus = MqttBus(BusConfig(host="127.0.0.1", port=sb.port, client_id="gw-bad", username="gateway",
                            password="wrong", subscriptions=["$share/x/city/#"]), lambda m: None)
    with pytest.raises(MqttAuthError):
        bus.start(wait_s=5)
    bus.stop()


@pytest.mark.services  # starts its own Mosquitto
def test_later_batches_keep_earlier_devices_and_load_on_sighup(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    first = provision(auth, kind="robot", district="nanshan", count=2)
    passwd_before = (auth / "passwd").read_text()
    mq = Mosquitto(tmp_path / "mq", extra_conf=secure_conf(auth, None)).start()
    try:
        second = provision(auth, kind="robot", district="nanshan", count=2)
        assert [c.username for c in first.created] == ["gateway", "robot-nanshan-0001", "robot-nanshan-0002"]
        assert [c.username for c in second.created] == ["robot-nanshan-0003", "robot-nanshan-0004"]
        assert (auth / "passwd").read_text().startswith(passwd_before)  # earlier lines untouched
        creds = read_credentials(auth / "credentials.jsonl")
        new = creds["robot-nanshan-0004"]
        assert connect(mq.port, new.username, new.password, client_id="n4").connack == NOT_AUTHORIZED
        assert mq.proc is not None
        mq.proc.send_signal(signal.SIGHUP)  # Mosquitto reloads passwords and ACLs

        def new_device_accepted() -> bool:
            probe = connect(mq.port, new.username, new.password, client_id="n4b")
            probe.close()
            return accepted(probe)

        assert wait_for(new_device_accepted, 5)
        old = creds["robot-nanshan-0001"]
        probe = connect(mq.port, old.username, old.password, client_id="n1")
        assert accepted(probe)
        assert probe.publish(f"{old.topic_prefix}/telemetry", b"{}") < 0x80
        assert probe.publish(f"{new.topic_prefix}/telemetry", b"{}") == NOT_AUTHORIZED
        probe.close()
    finally:
        mq.stop()
