"""Broker accounts for an edge site (``urbanops devices provision --site``), on real brokers:
the site's devices log in to the site broker, the site's bridge to the city broker with the
account made for it, and the city's ACL lets the bridge carry exactly what the site's devices
may send up (never their frames) and bring down their commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.edge.bridge import EdgeSite
from gateway.edge.run import EdgeBroker
from gateway.local_services import Mosquitto, free_port
from gateway.security.provision import provision, read_credentials
from tests.helpers import wait_for


def _client(port: int, user: str, password: str, inbox: list[tuple[str, bytes]], *subs: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    c.on_message = lambda _c, _u, m: inbox.append((m.topic, bytes(m.payload)))
    c.on_connect = lambda cl, *_a: [cl.subscribe(s, qos=1) for s in subs]
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def test_provisioned_files_split_between_the_city_and_the_site(tmp_path: Path) -> None:
    out = tmp_path / "auth"
    provision(out, kind="sensor", district="futian", count=1)
    result = provision(out, kind="drone", district="futian", count=2, site="dock1")
    roles = sorted(c.role for c in result.created)
    assert roles == ["device", "device", "site", "vision"]
    city_acl, site_dir = (out / "acl").read_text(), out / "sites" / "dock1"
    assert "user edge-dock1" in city_acl and "topic write city/futian/drone/drone-futian-0001/telemetry" in city_acl
    assert "drone-futian-0001/frame" not in city_acl  # the bridge may never carry frames
    assert "user drone-futian-0001" not in city_acl  # the site's devices log in at the site
    assert "user sensor-futian-0001" in city_acl
    site_acl = (site_dir / "acl").read_text()
    assert "topic write city/futian/drone/drone-futian-0002/frame" in site_acl and "user edge-dock1-vision" in site_acl
    assert (site_dir / "passwd").read_text().count(":$7$") == 3 and (site_dir / "passwd").stat().st_mode & 0o077 == 0
    assert f"password_file {site_dir.resolve() / 'passwd'}" in (site_dir / "auth.conf").read_text()
    again = provision(out, kind="robot", district="nanshan", count=1, site="dock1")
    assert [c.role for c in again.created] == ["device"]  # the site's accounts are made once
    assert "topic read city/nanshan/tickets" in (out / "acl").read_text()
    registry = json.loads((out / "devices.json").read_text())["devices"]
    assert sorted(d.get("site") or "-" for d in registry) == ["-", "dock1", "dock1", "dock1"]


@pytest.mark.services
def test_a_provisioned_site_bridges_to_a_provisioned_city(services_root: Path) -> None:
    out = services_root / f"site-auth-{time.monotonic_ns()}"
    provision(out, kind="drone", district="futian", count=1, site="dockp")
    creds = read_credentials(out / "credentials.jsonl")
    city = Mosquitto(services_root / f"city-{time.monotonic_ns()}",
                     extra_conf=[f"password_file {out / 'passwd'}", f"acl_file {out / 'acl'}"]).start()
    bridge, gateway, drone = creds["edge-dockp"], creds["gateway"], creds["drone-futian-0001"]
    site_port = free_port()
    edge = EdgeBroker(EdgeSite("dockp", f"mqtt://{bridge.username}:{bridge.password}@127.0.0.1:{city.port}",
                               services_root / f"edge-{time.monotonic_ns()}", listen=("127.0.0.1",), port=site_port,
                               extra=[*(out / "sites" / "dockp" / "auth.conf").read_text().splitlines(),
                                      "user root"])).start()  # root: the test's files are root's
    at_city: list[tuple[str, bytes]] = []
    at_drone: list[tuple[str, bytes]] = []
    gw = _client(city.port, gateway.username, gateway.password, at_city, "city/#", "$SYS/broker/connection/#")
    dev = _client(site_port, drone.username, drone.password, at_drone, f"{drone.topic_prefix}/cmd")
    try:
        state = ("$SYS/broker/connection/edge-dockp/state", b"1")
        assert wait_for(lambda: state in at_city, 20, 0.1), "the bridge did not log in to the city"
        dev.publish(f"{drone.topic_prefix}/telemetry", b'{"m": 1}', qos=1).wait_for_publish(5)
        dev.publish(f"{drone.topic_prefix}/frame", b"\xff\xd8raw", qos=1).wait_for_publish(5)
        dev.publish("city/futian/drone/someone-else/telemetry", b'{"m": 2}', qos=1).wait_for_publish(5)
        assert wait_for(lambda: any(t.endswith("/telemetry") for t, _ in at_city), 10, 0.1), at_city
        time.sleep(1.0)  # anything else that was going to cross has crossed
        crossed = [t for t, _ in at_city if t.startswith("city/")]
        assert crossed == [f"{drone.topic_prefix}/telemetry"], crossed
        gw.publish(f"{drone.topic_prefix}/cmd", b'{"task": "return"}', qos=1).wait_for_publish(5)
        assert wait_for(lambda: (f"{drone.topic_prefix}/cmd", b'{"task": "return"}') in at_drone, 10, 0.1)
    finally:
        for c in (gw, dev):
            c.loop_stop()
            c.disconnect()
        edge.stop()
        city.stop()
