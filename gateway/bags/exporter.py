"""``urbanops bags export``: a device's evidence window from the database as a ROS 2 bag.

Writes MCAP (rosbag2 metadata version 8, which Humble-and-later tools read) with the
message definitions embedded, so ``ros2 bag``, Foxglove or rosbags open it without the
platform installed:

| topic | type | from |
|---|---|---|
| /fix | sensor_msgs/msg/NavSatFix | ``positions`` |
| /urbanops/telemetry | urbanops_msgs/msg/Metrics (float64, one per stored message) | ``telemetry`` |
| /urbanops/events | urbanops_msgs/msg/Event | ``events`` |
| /urbanops/status | urbanops_msgs/msg/DeviceStatus | ``device_status`` |

Log time and ``header.stamp`` are the device's timestamp; ``header.frame_id`` carries the
stored msg_id, so rows can be traced back. Importing the bag again reproduces the data.

Not yet: ``--incident ID`` (the incidents table belongs to triage and does not exist in
this schema yet — ``incident_window`` is the seam: it must return the incident's device
and time window) and frames/tickets (frames are not stored in the database).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import psycopg
from rich.progress import track
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.typesys.store import Typestore

from devices.ros2.convert import none_to_nan, stamp_parts, to_ns
from devices.ros2.typestore import EVENT_TYPE, METRICS_TYPE, STATUS_TYPE, make_typestore

NAVSATFIX = "sensor_msgs/msg/NavSatFix"
TOPICS = {NAVSATFIX: "/fix", METRICS_TYPE: "/urbanops/telemetry",
          EVENT_TYPE: "/urbanops/events", STATUS_TYPE: "/urbanops/status"}
BAG_VERSION: Literal[8] = 8


class ExportError(RuntimeError):
    """The export could not be written (bad window, database error, existing output)."""


@dataclass(frozen=True, slots=True)
class ExportWindow:
    device_id: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ExportError("start and end need a UTC offset")
        if self.end <= self.start:
            raise ExportError("end must be after start")


@dataclass
class ExportReport:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)


def incident_window(conn: psycopg.Connection[Any], incident_id: str) -> ExportWindow:
    """The seam for ``--incident``: the incident's device and evidence window."""
    row = conn.execute("SELECT to_regclass('incidents') IS NOT NULL").fetchone()
    raise ExportError(
        f"export by incident ({incident_id}) is not available yet: "
        + ("the incidents table has no exporter mapping" if row and row[0]
           else "this database has no incidents table")
        + "; use --device with --start/--end"
    )


def _rows(conn: psycopg.Connection[Any], query: str, w: ExportWindow) -> list[tuple[Any, ...]]:
    return conn.execute(query, (w.device_id, w.start, w.end)).fetchall()


_WHERE = "WHERE device_id = %s AND ts >= %s AND ts < %s"


class _Builder:
    def __init__(self, store: Typestore) -> None:
        self.t = store.types

    def header(self, ts: datetime, frame_id: str) -> Any:
        sec, nsec = stamp_parts(ts)
        return self.t["std_msgs/msg/Header"](
            stamp=self.t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec), frame_id=frame_id)

    def fix(self, ts: datetime, msg_id: str, lat: float, lon: float, alt: float | None) -> Any:
        return self.t[NAVSATFIX](
            header=self.header(ts, msg_id),
            status=self.t["sensor_msgs/msg/NavSatStatus"](status=0, service=1),
            latitude=lat, longitude=lon, altitude=none_to_nan(alt),
            position_covariance=np.zeros(9), position_covariance_type=0)

    def metrics(self, ts: datetime, msg_id: str, values: dict[str, float]) -> Any:
        return self.t[METRICS_TYPE](header=self.header(ts, msg_id), names=list(values),
                                    values=np.array(list(values.values()), dtype=np.float64))

    @staticmethod
    def where(lat: float | None, lon: float | None) -> dict[str, Any]:
        has = lat is not None and lon is not None
        return {"has_position": has, "latitude": lat if has else math.nan,
                "longitude": lon if has else math.nan, "altitude": math.nan}

    def event(self, row: tuple[Any, ...]) -> Any:
        ts, msg_id, label, conf, text, value, unit, lat, lon, cmd_id = row
        return self.t[EVENT_TYPE](
            header=self.header(ts, msg_id), label=label, confidence=none_to_nan(conf),
            text=text or "", value=none_to_nan(value), unit=unit or "", cmd_id=cmd_id or "",
            **self.where(lat, lon))

    def status(self, row: tuple[Any, ...]) -> Any:
        ts, msg_id, state, battery = row
        return self.t[STATUS_TYPE](header=self.header(ts, msg_id), state=state,
                                   battery_pct=none_to_nan(battery), firmware="",
                                   **self.where(None, None))


def collect(conn: psycopg.Connection[Any], w: ExportWindow, store: Typestore) -> list[
        tuple[datetime, str, Any]]:
    """(ts, ros type, message) for everything in the window, in time order."""
    b = _Builder(store)
    out: list[tuple[datetime, str, Any]] = []
    for ts, msg_id, lat, lon, alt in _rows(
            conn, f"SELECT ts, msg_id, lat, lon, alt_m FROM positions {_WHERE} ORDER BY ts, msg_id",
            w):
        out.append((ts, NAVSATFIX, b.fix(ts, msg_id, lat, lon, alt)))
    groups: dict[tuple[datetime, str], dict[str, float]] = {}
    for ts, msg_id, metric, value in _rows(
            conn, f"SELECT ts, msg_id, metric, value FROM telemetry {_WHERE}"
                  " ORDER BY ts, msg_id, metric", w):
        groups.setdefault((ts, msg_id), {})[metric] = value
    out += [(ts, METRICS_TYPE, b.metrics(ts, msg_id, vals)) for (ts, msg_id), vals in groups.items()]
    out += [(r[0], EVENT_TYPE, b.event(r)) for r in _rows(
        conn, "SELECT ts, msg_id, label, confidence, text, value, unit, lat, lon, cmd_id"
              f" FROM events {_WHERE} ORDER BY ts, msg_id", w)]
    out += [(r[0], STATUS_TYPE, b.status(r)) for r in _rows(
        conn, f"SELECT ts, msg_id, state, battery_pct FROM device_status {_WHERE}"
              " ORDER BY ts, msg_id", w)]
    out.sort(key=lambda item: item[0])
    return out


def export_bag(database_url: str, window: ExportWindow, out: Path, *,
               distro: str = "humble", progress: bool = False) -> ExportReport:
    """Write the window to a new MCAP bag directory ``out``."""
    if out.exists():
        raise ExportError(f"{out} exists already; choose a new --out path")
    store = make_typestore(distro)
    try:
        with psycopg.connect(database_url, connect_timeout=10) as conn:
            messages = collect(conn, window, store)
    except psycopg.Error as err:
        raise ExportError(f"database: {err}") from err
    report = ExportReport(out, {topic: 0 for topic in TOPICS.values()})
    try:
        with Writer(out, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP) as writer:
            writer.set_custom_data("urbanops.device_id", window.device_id)
            writer.set_custom_data("urbanops.window", f"{window.start.isoformat()}/"
                                                      f"{window.end.isoformat()}")
            conns = {t: writer.add_connection(topic, t, typestore=store)
                     for t, topic in TOPICS.items()}
            for ts, ros_type, msg in track(messages, description=f"export {out.name}",
                                           disable=not progress):
                writer.write(conns[ros_type], to_ns(ts), store.serialize_cdr(msg, ros_type))
                report.counts[TOPICS[ros_type]] += 1
    except WriterError as err:
        raise ExportError(f"cannot write {out}: {err}") from err
    return report
