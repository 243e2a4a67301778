"""The gateway's own MQTT client over Mosquitto's TLS listener, with the certificates
``urbanops devices tls-certs`` makes; and what happens to clients that do not trust them."""

from __future__ import annotations

import socket
import ssl

import pytest

from gateway.ingest.bus import BusConfig, Inbound, MqttBus
from tests.hardening.conftest import SecureBroker
from tests.hardening.mqtt_probe import connect
from tests.helpers import wait_for


def test_gateway_bus_over_tls_with_the_self_signed_ca(secure_broker: SecureBroker) -> None:
    sb = secure_broker
    got: list[Inbound] = []
    bus = MqttBus(BusConfig(host="127.0.0.1", port=sb.tls_port, client_id="gw-tls", tls=True,
                            ca_file=str(sb.tls.ca_cert), username="gateway", password=sb.creds["gateway"].password,
                            subscriptions=["$share/tls/city/#"]), got.append)
    bus.start(wait_s=10)
    dev = sb.devices("drone", "futian")[0]
    probe = connect(sb.tls_port, dev.username, dev.password, client_id="dev-tls", ca_file=str(sb.tls.ca_cert))
    try:
        assert probe.connack == 0
        # The subscription is live once a probe message arrives; then the real one.
        assert wait_for(lambda: probe.publish(f"{dev.topic_prefix}/status", b"probe") < 0x80 and
                        wait_for(lambda: bool(got), 0.5), 10)
        assert probe.publish(f"{dev.topic_prefix}/telemetry", b"over-tls") < 0x80
        assert wait_for(lambda: any(m.payload == b"over-tls" for m in got), 10)
        bus.ack_many([m.ack for m in got])
        assert bus.stats.connects == 1 and bus.stats.last_error is None
    finally:
        probe.close()
        bus.stop()


def _handshake(port: int, ctx: ssl.SSLContext, server_hostname: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=server_hostname):
        pass


def test_tls_refuses_untrusted_and_wrong_names(secure_broker: SecureBroker) -> None:
    sb = secure_broker
    trusted = ssl.create_default_context(cafile=str(sb.tls.ca_cert))
    _handshake(sb.tls_port, trusted, "localhost")
    _handshake(sb.tls_port, trusted, "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError):  # the system CAs do not know our CA
        _handshake(sb.tls_port, ssl.create_default_context(), "localhost")
    with pytest.raises(ssl.SSLCertVerificationError):  # not a name in the certificate
        _handshake(sb.tls_port, trusted, "broker.elsewhere.example")
    # Plain MQTT on the TLS port gets no CONNACK.
    with pytest.raises((TimeoutError, OSError)):
        connect(sb.tls_port, "gateway", sb.creds["gateway"].password, client_id="plain", timeout_s=2).close()
