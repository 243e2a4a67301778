"""The platform envelope (``ts``, ``msg_id``) of a ROS 2 message on MQTT.

A ros2 publisher sends MQTT v5 user properties ``ros_type`` (required), ``msg_id`` and
``ts`` (RFC 3339 with offset). When ``msg_id`` or ``ts`` is absent:

- ``ts`` comes from the message's ``header.stamp`` when it has a non-zero one, else from
  the time the gateway received it.
- ``msg_id`` is ``r2:`` + 24 hex digits of a BLAKE2b hash of device, ROS topic, type and the
  CDR bytes. Why: it is stable, so a QoS 1 redelivery of the same bytes is deduplicated.
  Caveat: a stamp-less message type whose bytes repeat (``std_msgs/String`` "hello") gets
  the same msg_id each time; the platform's dedupe key includes ``ts`` in the database, but
  publishers of such types should send ``msg_id`` themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from devices.ros2.errors import Ros2DecodeError

PROP_ROS_TYPE = "ros_type"
PROP_MSG_ID = "msg_id"
PROP_TS = "ts"
MSG_ID_MAX = 64
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")

__all__ = ["check_msg_id", "derive_msg_id", "parse_ts", "part_msg_id", "properties_dict"]


def properties_dict(user_properties: Iterable[tuple[str, str]]) -> dict[str, str]:
    """User properties as a dict (the first value wins when a key repeats)."""
    out: dict[str, str] = {}
    for key, value in user_properties:
        out.setdefault(key, value)
    return out


def parse_ts(value: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as err:
        raise Ros2DecodeError(f"user property ts {value[:40]!r} is not RFC 3339") from err
    if ts.tzinfo is None:
        raise Ros2DecodeError(f"user property ts {value[:40]!r} has no UTC offset")
    return ts


def check_msg_id(value: str) -> str:
    if not value or len(value) > MSG_ID_MAX or not set(value) <= _ALLOWED:
        raise Ros2DecodeError(f"user property msg_id {value[:70]!r} is not a valid msg_id")
    return value


def derive_msg_id(device_id: str, ros_topic: str, ros_type: str, data: bytes) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in (device_id, ros_topic, ros_type):
        h.update(part.encode())
        h.update(b"\x00")
    h.update(data)
    return "r2:" + h.hexdigest()


def part_msg_id(msg_id: str, suffix: str) -> str:
    """``msg_id:suffix`` for one of several messages made from one platform message.

    Falls back to a hash when the result would exceed 64 characters.
    """
    candidate = f"{msg_id}:{suffix}"
    if len(candidate) <= MSG_ID_MAX:
        return candidate
    return "h:" + hashlib.blake2b(candidate.encode(), digest_size=16).hexdigest()
