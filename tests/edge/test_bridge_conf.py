"""The edge site's broker configuration: what crosses the uplink is decided by its topics."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.edge.bridge import EdgeSite, mosquitto_conf


def _connections(conf: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in conf.splitlines():
        if line.startswith("connection "):
            current = line.split()[1]
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def test_frames_never_cross_and_commands_come_down_on_a_kept_session() -> None:
    conf = mosquitto_conf(EdgeSite("dock1", "mqtts://site%2Ddock1:s3cret@city.example:8883", Path("/var/q"),
                                   districts=("futian", "nanshan")))
    links = _connections(conf)
    assert set(links) == {"edge-dock1", "edge-dock1-down"}
    up, down = links["edge-dock1"], links["edge-dock1-down"]
    topics_up = [line for line in up if line.startswith("topic ")]
    assert "topic city/futian/+/+/telemetry out 1" in topics_up and "topic city/nanshan/+/+/ros2/# out 1" in topics_up
    assert all(" out " in t for t in topics_up) and not any("frame" in t or t.split()[1] == "#" for t in topics_up)
    assert "bridge_protocol_version mqttv50" in up  # ROS 2 messages need their user property
    assert "bridge_protocol_version mqttv311" in down and "cleansession false" in down
    assert {t for t in down if t.startswith("topic ")} == {
        "topic city/futian/+/+/cmd in 1", "topic city/futian/tickets in 1",
        "topic city/nanshan/+/+/cmd in 1", "topic city/nanshan/tickets in 1"}
    for link in (up, down):
        assert "remote_username site-dock1" in link and "remote_password s3cret" in link
        assert "bridge_capath /etc/ssl/certs" in link
    assert "persistence true" in conf and "max_queued_messages 10000000" in conf


def test_a_city_url_that_is_not_mqtt_is_refused() -> None:
    with pytest.raises(ValueError, match="mqtt"):
        mosquitto_conf(EdgeSite("dock1", "http://city:1883", Path("/var/q")))
