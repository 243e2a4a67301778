"""Commands to devices: built from a task, refused when outside the device kind's capabilities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from devices.payloads import CAPABILITIES, Action, Command, Position
from devices.topics import Channel, Kind, Topic


class CapabilityError(ValueError):
    """The device's kind cannot do this action; nothing is sent."""


def command_for(task: dict[str, Any], now: datetime, *, action: Action | None = None,
                msg_id: str | None = None) -> tuple[str, bytes]:
    """(topic, payload) of the task's command; ``msg_id`` defaults to the task id (the ``cmd_id``
    the device echoes), so a resend after an ack timeout is the same command, not a new one."""
    kind = Kind(task["kind"])
    act = action or Action(task["action"])
    if act not in CAPABILITIES[kind]:
        raise CapabilityError(f"a {kind.value} cannot {act.value}")
    district, device_id = task["district"], task["device_id"]
    if not device_id or not district:
        raise ValueError(f"task {task['task_id']} has no device")
    cmd = Command(ts=now, msg_id=msg_id or task["task_id"], action=act,
                  position=Position(lat=task["lat"], lon=task["lon"]) if act is not Action.CANCEL else None,
                  task=f"{act.value} for ticket {task['ticket_id']}"[:200], ticket_id=task["ticket_id"][:64],
                  deadline=task["deadline"])
    return Topic(district, kind, device_id, Channel.CMD).render(), cmd.to_json()
