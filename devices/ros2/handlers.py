"""One function per mapped ROS 2 type: decoded message → platform models.

Each handler fills ``ctx.out``; a handler that finds nothing usable leaves it empty and the
mapper keeps the message raw. Contents that are decodable but invalid for the platform (a
metric the device kind does not have, a label outside the taxonomy) raise
``Ros2DecodeError`` so the gateway dead-letters them with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from devices.metrics import METRICS_BY_KIND
from devices.payloads import Event, FrameMeta, Position, Status, Telemetry
from devices.ros2.convert import battery_percent, nan_to_none, quaternion_to_heading
from devices.ros2.envelope import part_msg_id
from devices.ros2.errors import Ros2DecodeError
from devices.ros2.images import compressed_to_jpeg, image_to_jpeg
from devices.ros2.results import CameraDefaults, DevicePose, PositionFix, Ros2Mapped
from devices.ros2.typestore import EVENT_TYPE, METRICS_TYPE, STATUS_TYPE
from devices.topics import Topic

DIAG_ERROR, DIAG_STALE = 2, 3
_DIAG_LEVELS = {DIAG_ERROR: "ERROR", DIAG_STALE: "STALE"}
FRAME_PROPS = ("lat", "lon", "alt_m", "heading_deg", "pitch_deg", "hfov_deg")


@dataclass(slots=True)
class Ctx:
    topic: Topic
    ros_type: str
    ts: datetime
    msg_id: str
    props: Mapping[str, str]
    pose: DevicePose
    camera: CameraDefaults
    out: Ros2Mapped


def _invalid(ctx: Ctx, err: ValidationError) -> Ros2DecodeError:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "message"
    return Ros2DecodeError(f"invalid {ctx.ros_type}: {loc}: {first['msg']}"[:300], ctx.ros_type)


def _position(ctx: Ctx, lat: float, lon: float, alt: float) -> Position:
    try:
        return Position(lat=lat, lon=lon, alt_m=nan_to_none(alt))
    except ValidationError as err:
        raise _invalid(ctx, err) from err


def _telemetry(ctx: Ctx, metrics: dict[str, float], strict: bool) -> None:
    """Set ``out.telemetry``. ``strict``: names the kind lacks are an error, not skipped."""
    allowed = METRICS_BY_KIND[ctx.topic.kind]
    if not strict:
        metrics = {k: v for k, v in metrics.items() if k in allowed}
    metrics = {k: float(v) for k, v in metrics.items() if math.isfinite(v)}
    if not metrics:
        return
    try:
        ctx.out.telemetry = Telemetry.model_validate(
            {"ts": ctx.ts, "msg_id": ctx.msg_id, "metrics": metrics},
            context={"kind": ctx.topic.kind.value},
        )
    except ValidationError as err:
        raise _invalid(ctx, err) from err


def navsatfix(ctx: Ctx, msg: Any) -> None:
    if msg.status.status < 0 or not (math.isfinite(msg.latitude) and math.isfinite(msg.longitude)):
        return  # NO_FIX: nothing to place; kept raw
    pos = _position(ctx, msg.latitude, msg.longitude, msg.altitude)
    ctx.out.position = PositionFix(ctx.ts, ctx.msg_id, pos)
    pose = ctx.pose
    if pose.position_ts is None or ctx.ts >= pose.position_ts:
        pose.lat, pose.lon, pose.alt_m, pose.position_ts = pos.lat, pos.lon, pos.alt_m, ctx.ts


def battery_state(ctx: Ctx, msg: Any) -> None:
    pct = battery_percent(float(msg.percentage), float(msg.charge), float(msg.capacity))
    if pct is not None:
        _telemetry(ctx, {"battery_pct": pct}, strict=False)


def odometry(ctx: Ctx, msg: Any) -> None:
    lin = msg.twist.twist.linear
    speed = math.sqrt(lin.x * lin.x + lin.y * lin.y + lin.z * lin.z)
    q = msg.pose.pose.orientation
    heading = quaternion_to_heading(q.x, q.y, q.z, q.w)
    if heading is not None:
        ctx.pose.heading_deg = heading
    metrics = {"speed_m_s": speed}
    if heading is not None:
        metrics["heading_deg"] = heading
    _telemetry(ctx, metrics, strict=False)  # heading_deg only exists for drones


def metrics(ctx: Ctx, msg: Any) -> None:
    names, values = list(msg.names), [float(v) for v in msg.values]
    if len(names) != len(values) or len(set(names)) != len(names):
        raise Ros2DecodeError(f"{ctx.ros_type}: names and values do not pair up", ctx.ros_type)
    _telemetry(ctx, dict(zip(names, values, strict=True)), strict=True)


def _optional_position(ctx: Ctx, msg: Any) -> Position | None:
    return _position(ctx, msg.latitude, msg.longitude, msg.altitude) if msg.has_position else None


def event(ctx: Ctx, msg: Any) -> None:
    try:
        ctx.out.events.append(Event(
            ts=ctx.ts, msg_id=ctx.msg_id, label=msg.label, confidence=nan_to_none(msg.confidence),
            text=msg.text or None, value=nan_to_none(msg.value), unit=msg.unit or None,
            position=_optional_position(ctx, msg), cmd_id=msg.cmd_id or None,
        ))
    except ValidationError as err:
        raise _invalid(ctx, err) from err


def device_status(ctx: Ctx, msg: Any) -> None:
    try:
        ctx.out.status = Status.model_validate({
            "ts": ctx.ts, "msg_id": ctx.msg_id, "state": msg.state,
            "battery_pct": nan_to_none(msg.battery_pct), "firmware": msg.firmware or None,
            "position": _optional_position(ctx, msg),
        })
    except ValidationError as err:
        raise _invalid(ctx, err) from err


def diagnostic_array(ctx: Ctx, msg: Any) -> None:
    pose = ctx.pose
    where = (Position(lat=pose.lat, lon=pose.lon, alt_m=pose.alt_m)
             if pose.lat is not None and pose.lon is not None else None)
    for i, st in enumerate(msg.status):
        level = _DIAG_LEVELS.get(int(st.level))
        if level is None:
            continue  # OK and WARN are not faults
        parts = [f"[{level}] {st.name}: {st.message}"]
        if st.hardware_id:
            parts.append(f"hardware_id={st.hardware_id}")
        parts += [f"{kv.key}={kv.value}" for kv in st.values[:10]]
        ctx.out.events.append(Event(
            ts=ctx.ts, msg_id=part_msg_id(ctx.msg_id, f"diag{i}"), label="diagnostic_error",
            text="; ".join(parts)[:2000], value=float(int(st.level)), position=where,
        ))


def _frame_meta(ctx: Ctx) -> FrameMeta | None:
    given = {k: ctx.props[k] for k in FRAME_PROPS if k in ctx.props}
    pose = ctx.pose
    fields: dict[str, object] = {
        "lat": pose.lat, "lon": pose.lon, "alt_m": pose.alt_m if pose.alt_m is not None else 0.0,
        "heading_deg": pose.heading_deg if pose.heading_deg is not None else 0.0,
        "pitch_deg": ctx.camera.pitch_deg, "hfov_deg": ctx.camera.hfov_deg, **given,
    }
    if fields["lat"] is None or fields["lon"] is None:
        return None  # no pose known yet: a frame cannot be placed, so it is kept raw
    try:
        return FrameMeta.model_validate({"ts": ctx.ts, "msg_id": ctx.msg_id, **fields})
    except ValidationError as err:
        raise _invalid(ctx, err) from err


def _frame(ctx: Ctx, jpeg: bytes | None) -> None:
    if jpeg is None:
        return
    meta = _frame_meta(ctx)
    if meta is not None:
        ctx.out.frames.append((meta, jpeg))


def compressed_image(ctx: Ctx, msg: Any) -> None:
    _frame(ctx, compressed_to_jpeg(msg, ctx.ros_type))


def image(ctx: Ctx, msg: Any) -> None:
    if _frame_meta(ctx) is not None:  # convert only frames that can be placed
        _frame(ctx, image_to_jpeg(msg, ctx.ros_type))


HANDLERS: dict[str, Callable[[Ctx, Any], None]] = {
    "sensor_msgs/msg/NavSatFix": navsatfix,
    "sensor_msgs/msg/BatteryState": battery_state,
    "nav_msgs/msg/Odometry": odometry,
    "sensor_msgs/msg/CompressedImage": compressed_image,
    "sensor_msgs/msg/Image": image,
    "diagnostic_msgs/msg/DiagnosticArray": diagnostic_array,
    METRICS_TYPE: metrics,
    EVENT_TYPE: event,
    STATUS_TYPE: device_status,
}
