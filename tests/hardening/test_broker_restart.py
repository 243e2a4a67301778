"""Fault: Mosquitto (persistence on) is stopped mid-stream and started again on the same port
and directory. The devices' publisher and the gateway reconnect by themselves, and
TimescaleDB ends up with every QoS 1 message exactly once.

To make this a test of the broker's persistence rather than of timing luck, the gateway is
paused (SIGSTOP) from shortly before the stop until the devices have published again after
the restart: a backlog sits in the broker's queue for the gateway's persistent session (its
Receive Maximum is lowered so that the backlog stays on the broker, not in socket buffers),
and more arrives after the restart, before the gateway has resubscribed.

Mosquitto 2.0 restores a persistent session's plain subscriptions and queued messages after
a restart, but not its shared (``$share/...``) subscriptions (checked by hand, and by the
``shared`` case below): what devices publish after the restart and before the gateway
resubscribes matches no subscriber and is dropped, although the devices got their PUBACK.
So a single gateway subscribes plainly (``URBANOPS_MQTT_SHARE_GROUP=""``).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.encoding import Publish
from gateway.local_services import Mosquitto
from simulators.publisher import MqttPublisher
from tests.helpers import Publisher, scalar, start_gateway, wait_for, wait_gateway_subscribed

N = 10_000
DEVICES = 10
RATE = 2500.0  # msg/s offered: the restart lands mid-stream
SHARED_LOSS = "Mosquitto 2.0 does not restore shared subscriptions from persistence after a restart"


@dataclass
class Stream:
    """Publishes N messages in a thread at RATE; reports what the broker acknowledged."""

    publish: Callable[[str, bytes], None]
    idle: Callable[[], None]
    acked: Callable[[], int]
    finish: Callable[[], int]  # waits for the last PUBACK; -> reconnects
    reconnects: int | None = None
    error: BaseException | None = None

    def run(self, tag: str) -> None:
        try:
            start = time.monotonic()
            for i in range(N):
                body = {"ts": datetime.now(UTC).isoformat(), "msg_id": f"{tag}-{i}", "metrics": {"pm25": i % 500}}
                self.publish(f"city/futian/sensor/rs-{tag}-{i % DEVICES}/telemetry", json.dumps(body).encode())
                while time.monotonic() < start + i / RATE:
                    self.idle()
            self.reconnects = self.finish()
        except BaseException as err:  # reported by the test thread
            self.error = err


def simulators_stream(url: str, tag: str) -> Stream:
    pub = MqttPublisher(url, max_inflight=1000, backoff=(0.1, 1.0), stall_timeout=60)
    link = pub.add_link("restart", f"pub-{tag}")
    pub.connect()

    def finish() -> int:
        pub.flush(60)
        pub.close()
        return pub.reconnects

    return Stream(lambda t, p: pub.publish(link, Publish(t, p)), lambda: pub.poll(0.002),
                  lambda: sum(pub.acked.values()), finish)


def paho_stream(port: int, tag: str) -> Stream:
    # tests.helpers.Publisher: paho's loop_start reconnects and resends unacknowledged QoS 1.
    pub = Publisher(port, client_id=f"pub-{tag}")
    pub.client.reconnect_delay_set(1, 2)
    connects = [0]
    pub.client.on_connect = lambda *a: connects.__setitem__(0, connects[0] + 1)

    def finish() -> int:
        assert wait_for(lambda: pub.acked >= pub.sent, 60, 0.05), f"acked {pub.acked} of {pub.sent}"
        pub.close(1)
        return connects[0]

    return Stream(lambda t, p: pub.publish(t, p), lambda: time.sleep(0.002), lambda: pub.acked, finish)


def settle(count: Callable[[], int], want: int, quiet_s: float = 3.0, limit_s: float = 60.0) -> None:
    """Wait until ``count()`` reaches ``want`` or stops growing for ``quiet_s``."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + limit_s
    while (now := count()) < want and time.monotonic() < deadline:
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > quiet_s:
            return
        time.sleep(0.1)


@pytest.mark.parametrize(("publisher", "subscription"), [
    ("simulators", "plain"),
    ("paho", "plain"),
    # The shared-subscription case is not run: whether Mosquitto 2.0 loses messages there
    # depends on timing (SHARED_LOSS; docs/security.md), so it could not assert either way.
])
def test_broker_restart_mid_stream_loses_and_duplicates_nothing(publisher: str, subscription: str, db_url: str,
                                                                tmp_path: Path) -> None:
    tag = f"br{publisher[0]}{subscription[0]}{time.monotonic_ns() % 10**6}"
    mq = Mosquitto(tmp_path / "mq", persistence=True).start()
    env = {"URBANOPS_MQTT_RECEIVE_MAXIMUM": "2000"}
    if subscription == "plain":
        env["URBANOPS_MQTT_SHARE_GROUP"] = ""
    gw = start_gateway(mq.url, db_url, tmp_path / "gw.log", client_id=f"gw-{tag}", extra_env=env)

    def stored() -> int:
        return scalar(db_url, f"SELECT count(*) FROM telemetry WHERE msg_id LIKE '{tag}-%'")

    try:
        wait_gateway_subscribed(db_url, mq.port)
        stream = simulators_stream(mq.url, tag) if publisher == "simulators" else paho_stream(mq.port, tag)
        thread = threading.Thread(target=stream.run, args=(tag,), daemon=True)
        thread.start()
        assert wait_for(lambda: stored() >= N * 0.25, 60, 0.05), "stream never got going"
        gw.send_signal(signal.SIGSTOP)  # a backlog builds up on the broker for the gateway's session
        time.sleep(1.5)
        at_stop, acked_at_stop = stored(), stream.acked()
        stopped = time.monotonic()
        mq.stop()  # SIGTERM: Mosquitto saves sessions and queued messages
        time.sleep(1.0)  # the devices keep publishing into a dead connection
        mq.start()  # same port, same persistence directory
        started = time.monotonic()
        # The devices are back and publishing before the gateway is.
        assert wait_for(lambda: stream.acked() >= acked_at_stop + 1000, 30, 0.02), "publisher did not reconnect"
        published_back = time.monotonic()
        gw.send_signal(signal.SIGCONT)
        assert wait_for(lambda: stored() > at_stop, 30, 0.05), "gateway did not resume storing"
        resumed = time.monotonic()
        thread.join(120)
        assert stream.error is None, repr(stream.error)
        assert stream.acked() == N, f"the broker acknowledged {stream.acked()} of {N}"
        settle(stored, N)
        drained = time.monotonic()
        time.sleep(1.0)  # late redeliveries would show up as extra rows now
        total = stored()
        distinct = scalar(db_url, f"SELECT count(DISTINCT msg_id) FROM telemetry WHERE msg_id LIKE '{tag}-%'")
        print(f"\nbroker restart ({publisher} publisher, {subscription} subscription): published {N}, acked "
              f"{stream.acked()}, stored {total}, distinct {distinct}, lost {N - distinct}, duplicates "
              f"{total - distinct}; at the stop {acked_at_stop} acked, {at_stop} stored "
              f"({acked_at_stop - at_stop} queued for the paused gateway); broker down {started - stopped:.2f} s; "
              f"devices publishing again {published_back - started:.2f} s after start; gateway storing "
              f"{resumed - published_back:.2f} s after its resume; all stored {drained - started:.2f} s after "
              f"start; publisher reconnects {stream.reconnects}")
        assert (total, distinct) == (N, N), f"lost {N - distinct}, duplicates {total - distinct}"
        assert stream.reconnects is not None and stream.reconnects >= 1
    finally:
        gw.send_signal(signal.SIGCONT)
        gw.terminate()
        gw.wait(20)
        mq.stop()
