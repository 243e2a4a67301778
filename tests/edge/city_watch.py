"""A client at the city broker: an edge bridge's state (retained) and any frame that crosses."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class CityWatch:
    """A client at the city broker: the bridge's state (retained) and any frame that crosses."""

    def __init__(self, port: int, bridge: str) -> None:
        self.state: str | None = None
        self.frames = 0
        self._state_topic = f"$SYS/broker/connection/{bridge}/state"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{bridge}", protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe([(self._state_topic, 0), ("city/+/+/+/frame", 0)])
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self._state_topic:
            self.state = bytes(msg.payload).decode()
        else:
            self.frames += 1

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
