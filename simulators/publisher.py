"""MQTT v5 publisher for simulated fleets: many connections, one thread, QoS 1 end to end.

Design (why it looks like this):
- One thread drives every connection with a selector (paho's external-loop API:
  ``loop_read``/``loop_misc``), so publishing costs no thread hand-offs and hundreds of
  idle connections cost no threads at all. Not thread-safe: call it from one thread.
- Each connection has a window of unacknowledged publishes (``max_inflight``, capped by the
  broker's CONNACK Receive Maximum); ``publish`` waits in the network loop when it is full.
  (paho's own in-flight queue is not used: it rescans every queued message per PUBACK.)
- ``flush()`` returns once every publish is acknowledged; counts are kept per channel, and
  PUBACKs with a failure reason (e.g. an ACL denial) are counted as rejected.
- A dropped connection reconnects with capped, jittered exponential backoff, then resends
  what was not acknowledged (DUP; the platform's msg_id dedupe absorbs the repeats).
- A link may subscribe (a device's ``cmd`` topic): renewed after every connect, because links
  start clean; ``on_message`` runs inside ``poll`` and must only record what arrived.
"""

from __future__ import annotations

import contextlib
import functools
import random
import selectors
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from devices.encoding import Publish
from devices.topics import TopicError, parse_topic
from simulators.mqtt_link import Link, LinkClient, encode_properties

MISC_EVERY_S = 1.0


class PublisherError(RuntimeError):
    """The broker cannot be reached, refused us, or stopped acknowledging."""


class PublisherStopped(PublisherError):
    """``abort`` was set while waiting on the broker."""


def broker_address(url: str) -> tuple[str, int, str | None, str | None, bool]:
    """host, port, username, password, tls from ``mqtt[s]://user:pass@host:port``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise PublisherError(f"unsupported MQTT URL scheme {parts.scheme!r} (mqtt, mqtts)")
    tls = parts.scheme in ("mqtts", "ssl")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), user, password, tls


class MqttPublisher:
    def __init__(self, url: str, *, max_inflight: int = 1000, keepalive: int = 30,
                 connect_timeout: float = 10.0, backoff: tuple[float, float] = (0.5, 30.0),
                 stall_timeout: float = 120.0, abort: threading.Event | None = None) -> None:
        self.host, self.port, self.username, self.password, self.tls = broker_address(url)
        self.max_inflight = max_inflight
        self.keepalive = keepalive
        self.connect_timeout = connect_timeout
        self.backoff = backoff
        self.stall_timeout = stall_timeout
        self.abort = abort  # set: waits on the broker give up with PublisherStopped
        self.links: list[Link] = []
        self.sel = selectors.DefaultSelector()
        self.acked: Counter[str] = Counter()  # per channel, PUBACK with success
        self.sent: Counter[str] = Counter()  # per channel, handed to a connection
        self.rejected: Counter[str] = Counter()  # per channel, PUBACK with a failure reason
        self.reconnects = 0
        self._channels: dict[str, str] = {}
        self._dirty: set[Link] = set()  # links with buffered output
        self._down: set[Link] = set()  # links waiting to reconnect
        self._closing = False
        self._last_misc = 0.0
        self._jitter = random.Random()  # timing only: never part of message contents

    # -- set-up -------------------------------------------------------------------------
    def add_link(self, name: str, client_id: str, *,
                 will: Callable[[int], Publish] | None = None,
                 on_connect: Callable[[int], list[Publish]] | None = None,
                 subscribe: tuple[str, ...] = (),
                 on_message: Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None] | None = None) -> Link:
        """A connection; ``will(n)`` is its last will for connect n, ``on_connect(n)`` what to
        publish once connect n is acknowledged (n > 1: after a reconnect); ``subscribe`` topics
        are delivered to ``on_message``."""
        client = LinkClient(client_id)
        link = Link(name, client, will=will, on_connect=on_connect, window=self.max_inflight,
                    subscriptions=subscribe)
        if on_message is not None:
            client.on_message = on_message
        client.on_ack = functools.partial(self._on_ack, link)
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set()
        client.max_inflight_messages_set(0)  # our window instead (see module doc)
        client.max_queued_messages_set(0)
        client.connect_timeout = self.connect_timeout
        client.user_data_set(link)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        self.links.append(link)
        return link

    def connect(self, timeout: float | None = None) -> None:
        """Connect every link and wait for all CONNACKs; PublisherError if any fails."""
        for link in self.links:
            if not link.connected and link.client.socket() is None:
                self._attempt(link, first=True)
        deadline = time.monotonic() + (timeout or self.connect_timeout)
        while not all(link.connected for link in self.links):
            failed = [lk for lk in self.links if lk.error]
            if failed:
                raise PublisherError(f"broker {self.host}:{self.port} refused {failed[0].name}: "
                                     f"{failed[0].error}")
            if time.monotonic() > deadline:
                waiting = sum(not lk.connected for lk in self.links)
                raise PublisherError(f"no CONNACK from {self.host}:{self.port} for {waiting} "
                                     "connection(s)")
            self.poll(0.05)

    def _attempt(self, link: Link, first: bool = False) -> None:
        c = link.client
        if link.will is not None:
            w = link.will(link.connects)
            c.will_set(w.topic, w.payload, qos=w.qos, retain=w.retain)
        link.attempts += 1
        try:
            if first:
                c.connect(self.host, self.port, self.keepalive, clean_start=True)
            else:
                c.reconnect()
        except (OSError, ValueError) as err:
            if first:
                raise PublisherError(f"cannot connect to {self.host}:{self.port}: {err}") from err
            self._schedule(link)
            return
        self._dirty.add(link)

    def _schedule(self, link: Link) -> None:
        low, cap = self.backoff
        delay = min(cap, low * 2 ** min(link.attempts, 16))
        link.next_attempt = time.monotonic() + delay * self._jitter.uniform(0.5, 1.0)

    # -- paho callbacks (run inside loop_read; they only record) -------------------------
    def _on_connect(self, client: mqtt.Client, link: Link, flags: ConnectFlags,
                    reason: ReasonCode, props: Properties | None) -> None:
        if reason.is_failure:
            link.error = str(reason)
            return
        receive_max = getattr(props, "ReceiveMaximum", 65535)
        link.window = max(1, min(self.max_inflight, receive_max))
        link.connected, link.just_connected, link.attempts, link.error = True, True, 0, None
        self._dirty.add(link)  # poll() runs the after-connect work outside this callback

    def _on_disconnect(self, client: mqtt.Client, link: Link, flags: DisconnectFlags,
                       reason: ReasonCode, props: Properties | None) -> None:
        link.connected = False
        if self._closing:
            return
        self._down.add(link)
        self._schedule(link)

    def _on_ack(self, link: Link, mid: int, reason: int) -> None:
        channel = link.inflight_channel.pop(mid, "other")
        if reason >= 0x80:  # e.g. 0x87 not authorised, 0x97 quota exceeded
            link.rejected += 1
            self.rejected[channel] += 1
        else:
            self.acked[channel] += 1

    def _on_socket_open(self, client: Any, link: Link, sock: Any) -> None:
        self.sel.register(sock, selectors.EVENT_READ, link)

    def _on_socket_close(self, client: Any, link: Link, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(sock)
        link.write_armed = False

    # -- publishing ---------------------------------------------------------------------
    def channel_of(self, topic: str) -> str:
        ch = self._channels.get(topic)
        if ch is None:
            try:
                ch = parse_topic(topic).channel.value
            except TopicError:
                ch = "other"
            self._channels[topic] = ch
        return ch

    def publish(self, link: Link, pub: Publish) -> None:
        """Queue one QoS 1 publish on ``link``; waits while the link's window is full."""
        if pub.qos != 1:
            raise PublisherError(f"QoS {pub.qos}: devices publish with QoS 1 (SPEC §2)")
        if link.inflight >= link.window:
            self._wait(lambda: link.inflight < link.window, f"window of {link.name}")
        channel = self.channel_of(pub.topic)
        props = encode_properties(pub.user_properties) if pub.user_properties else b"\x00"
        mid = link.client.send_publish(pub.topic.encode(), pub.payload, pub.retain, props)
        link.inflight_channel[mid] = channel
        self.sent[channel] += 1
        self._dirty.add(link)
        if link.client.out_bytes > 65536:
            self._flush_link(link)

    def _wait(self, done: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        limit = self.stall_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while not done():
            if self.abort is not None and self.abort.is_set():
                raise PublisherStopped(f"stopped while waiting for {what}")
            if time.monotonic() > deadline:
                raise PublisherError(f"broker {self.host}:{self.port} did not acknowledge "
                                     f"({what}) within {limit:.0f}s")
            self.poll(0.05)

    # -- the network loop ---------------------------------------------------------------
    def _flush_link(self, link: Link) -> None:
        try:
            done = link.client.flush_out()
        except OSError:
            link.client.drop()  # loop_read will then see the loss and paho reports it
            done = True
        sock = link.client.socket()
        if sock is not None and link.write_armed == done:  # epoll_ctl only on a change
            events = selectors.EVENT_READ | (0 if done else selectors.EVENT_WRITE)
            with contextlib.suppress(KeyError, ValueError):
                self.sel.modify(sock, events, link)
                link.write_armed = not done
        if done:
            self._dirty.discard(link)

    def poll(self, timeout: float = 0.0) -> None:
        """Write buffered output, wait up to ``timeout`` for input, handle acks and timers.

        Work is proportional to the links with something to do, not to all links: a fleet
        waits in here between ticks hundreds of times a second.
        """
        touched = list(self._dirty)
        for link in touched:
            self._flush_link(link)
        if self._dirty:
            timeout = min(timeout, 0.005)
        if self.sel.get_map():
            ready = self.sel.select(timeout)
        else:
            ready = []
            time.sleep(timeout)
        for key, events in ready:
            link = key.data
            touched.append(link)
            if events & selectors.EVENT_READ:
                c = link.client
                c.loop_read()
                for _ in range(10_000):  # drain what the 64 KiB read buffer still holds
                    if not c.has_input or c.socket() is None:
                        break
                    c.loop_read()
        for link in touched:
            c = link.client
            if link.just_connected:
                link.just_connected = False
                link.connects += 1
                self._down.discard(link)
                if link.connects > 1:
                    self.reconnects += 1
                    c.resend_unacked()  # before anything new: QoS 1 order is per connection
                for topic in link.subscriptions:
                    c.subscribe(topic, qos=1)
                if link.on_connect is not None:
                    for pub in link.on_connect(link.connects):
                        self.publish(link, pub)
            if c.want_write():  # packets paho queued inside one of its callbacks
                c.loop_write()
            if c.has_output:
                self._dirty.add(link)
        now = time.monotonic()
        for link in list(self._down):
            if link.connected or link.connects == 0:
                self._down.discard(link)
            elif link.client.socket() is None and now >= link.next_attempt:
                self._attempt(link)
        if now - self._last_misc >= MISC_EVERY_S:
            self._last_misc = now
            for link in self.links:
                if link.client.socket() is not None:
                    link.client.loop_misc()  # keepalive PINGREQ, ping timeout
                    if link.client.has_output:
                        self._dirty.add(link)

    # -- ending -------------------------------------------------------------------------
    @property
    def inflight(self) -> int:
        return sum(link.inflight for link in self.links)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every publish so far is acknowledged (or rejected)."""
        self._wait(lambda: self.inflight == 0 and not self._dirty, "flush", timeout)

    def kill(self, link: Link) -> None:
        """Drop ``link`` ungracefully: no DISCONNECT, so the broker publishes its will."""
        link.client.drop()

    def close(self) -> None:
        """Graceful DISCONNECT on every link (no wills are published)."""
        self._closing = True
        for link in self.links:
            link.next_attempt = float("inf")  # no reconnects from here on
            if link.client.socket() is not None:
                link.client.disconnect()
            link.connected = False
        self.sel.close()
