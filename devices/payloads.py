"""Pydantic v2 models of every JSON payload on the device topics (SPEC §2).

Validation is strict (no string-to-number coercion, finite numbers, aware timestamps) so a
bad message is refused at the edge with a reason a person can read.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from devices.metrics import METRICS_BY_KIND
from devices.topics import Kind

MsgId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Label = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
# PostgreSQL text cannot hold U+0000: one such character would fail the COPY of the whole
# batch (every device's rows in it), so free text refuses it at the edge.
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]

MAX_JSON_BYTES = 64 * 1024
MAX_FRAME_BYTES = 8 * 1024 * 1024


def utcnow() -> datetime:
    return datetime.now(UTC)


class Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class Position(Model):
    lat: FiniteFloat = Field(ge=-90, le=90)
    lon: FiniteFloat = Field(ge=-180, le=180)
    alt_m: FiniteFloat | None = Field(default=None, ge=-500, le=20000)


class Envelope(Model):
    ts: AwareDatetime
    msg_id: MsgId


class Telemetry(Envelope):
    metrics: dict[str, FiniteFloat] = Field(min_length=1, max_length=64)
    position: Position | None = None

    @model_validator(mode="after")
    def _known_metrics(self, info: ValidationInfo) -> Telemetry:
        kind = (info.context or {}).get("kind")
        allowed = METRICS_BY_KIND[Kind(kind)] if kind else frozenset().union(*METRICS_BY_KIND.values())
        unknown = sorted(set(self.metrics) - allowed)
        if unknown:
            raise ValueError(f"unknown metric(s) for {kind or 'any'} device: {', '.join(unknown)[:200]}")
        return self


class DeviceState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    BUSY = "busy"
    CHARGING = "charging"
    ERROR = "error"


class Status(Envelope):
    state: DeviceState
    battery_pct: FiniteFloat | None = Field(default=None, ge=0, le=100)
    firmware: Text | None = Field(default=None, max_length=64)
    position: Position | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, v: Any) -> Any:
        return DeviceState(v) if isinstance(v, str) else v


ROBOT_EVENT_LABELS = frozenset({"spill", "obstacle", "stuck", "bin_full", "low_battery"})
DEVICE_EVENT_LABELS = frozenset(
    {"offline", "low_battery", "diagnostic_error", "clock_skew", "implausible_value"}
)
# A device's answer to a command (SPEC §2 cmd): acknowledged, progressing, done, failed.
TASK_EVENT_LABELS = frozenset({"cmd_ack", "task_progress", "task_done", "task_failed"})
VISION_LABELS = frozenset(
    {"fire", "smoke", "garbage", "flooding", "pothole", "fallen_tree", "debris",
     "damaged_manhole", "person_down", "crowd", "vehicle", "illegal_parking"}
)
EVENT_LABELS = ROBOT_EVENT_LABELS | DEVICE_EVENT_LABELS | TASK_EVENT_LABELS | VISION_LABELS


class Event(Envelope):
    label: Label
    confidence: FiniteFloat | None = Field(default=None, ge=0, le=1)
    text: Text | None = Field(default=None, max_length=2000)
    value: FiniteFloat | None = None
    unit: Text | None = Field(default=None, max_length=16)
    position: Position | None = None
    cmd_id: MsgId | None = None

    @field_validator("label")
    @classmethod
    def _known_label(cls, v: str) -> str:
        if v not in EVENT_LABELS:
            raise ValueError(f"unknown event label {v!r}")
        return v


class FrameMeta(Model):
    """Camera frame metadata, carried as MQTT v5 user properties (all strings on the wire)."""

    model_config = ConfigDict(strict=False, extra="ignore", frozen=True)

    ts: AwareDatetime
    msg_id: MsgId
    lat: FiniteFloat = Field(ge=-90, le=90)
    lon: FiniteFloat = Field(ge=-180, le=180)
    alt_m: FiniteFloat = Field(ge=-500, le=20000)
    heading_deg: FiniteFloat = Field(ge=0, le=360)
    pitch_deg: FiniteFloat = Field(ge=-90, le=90)
    hfov_deg: FiniteFloat = Field(gt=0, lt=180)

    def to_user_properties(self) -> list[tuple[str, str]]:
        data = self.model_dump(mode="json")
        return [(k, str(v)) for k, v in data.items()]

    @classmethod
    def from_user_properties(cls, props: list[tuple[str, str]]) -> FrameMeta:
        return cls.model_validate(dict(props))


class Action(StrEnum):
    GOTO = "goto"
    CLEAN = "clean"
    INSPECT = "inspect"
    HOVER = "hover"
    RETURN_HOME = "return_home"
    CANCEL = "cancel"


# What each kind can be told to do; a command outside its kind is refused before sending.
CAPABILITIES: dict[Kind, frozenset[Action]] = {
    Kind.ROBOT: frozenset({Action.GOTO, Action.CLEAN, Action.RETURN_HOME, Action.CANCEL}),
    Kind.DRONE: frozenset(
        {Action.GOTO, Action.INSPECT, Action.HOVER, Action.RETURN_HOME, Action.CANCEL}
    ),
    Kind.SENSOR: frozenset(),
}


class Command(Envelope):
    action: Action
    position: Position | None = None
    task: str | None = Field(default=None, max_length=200)
    ticket_id: str | None = Field(default=None, max_length=64)
    deadline: AwareDatetime | None = None

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, v: Any) -> Any:
        return Action(v) if isinstance(v, str) else v


def finite(value: float) -> bool:
    return math.isfinite(value)


PayloadKind = Literal["telemetry", "status", "event", "cmd"]
PAYLOAD_MODELS: dict[str, type[Envelope]] = {
    "telemetry": Telemetry,
    "status": Status,
    "event": Event,
    "cmd": Command,
}
