"""Typestores per distro and message types registered at run time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.interfaces import MessageDefinition, MessageDefinitionFormat

from devices.ros2.errors import TypestoreError
from devices.ros2.mapping import Ros2Mapper
from devices.ros2.typestore import (
    EVENT_TYPE,
    METRICS_TYPE,
    STATUS_TYPE,
    make_typestore,
    normalize_type,
    register_embedded,
    register_msg_dir,
    register_msg_file,
    register_msg_text,
)
from tests.ros2.conftest import TS, ros_topic

GAS_MSG = """# a custom sensor reading
std_msgs/Header header
float32 lel_pct
string[] alarms
Reading[] readings
"""
READING_MSG = "string name\nfloat64 value\n"


@pytest.mark.parametrize("distro", ["humble", "jazzy", "Iron", "kilted"])
def test_distros_have_standard_and_platform_types(distro: str) -> None:
    store = make_typestore(distro)
    for name in ("sensor_msgs/msg/NavSatFix", "nav_msgs/msg/Odometry", METRICS_TYPE, EVENT_TYPE,
                 STATUS_TYPE):
        assert name in store.fielddefs


def test_unknown_distro() -> None:
    with pytest.raises(TypestoreError, match="unknown ROS 2 distro"):
        make_typestore("rolling-ridley")


def test_normalize_type() -> None:
    assert normalize_type("std_msgs/String") == "std_msgs/msg/String"
    assert normalize_type("std_msgs/msg/String") == "std_msgs/msg/String"
    with pytest.raises(TypestoreError):
        normalize_type("String")


def _write_pkg(root: Path) -> None:
    (root / "acme_msgs" / "msg").mkdir(parents=True)
    (root / "acme_msgs" / "msg" / "Gas.msg").write_text(GAS_MSG.replace("Reading[]",
                                                                       "acme_msgs/Reading[]"))
    (root / "acme_msgs" / "msg" / "Reading.msg").write_text(READING_MSG)


def test_register_msg_dir_resolves_dependencies_and_round_trips(tmp_path: Path) -> None:
    _write_pkg(tmp_path)
    store = make_typestore("humble")
    added = register_msg_dir(store, tmp_path)
    assert {"acme_msgs/msg/Gas", "acme_msgs/msg/Reading"} <= set(added)
    t = store.types
    msg = t["acme_msgs/msg/Gas"](
        header=t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=5, nanosec=6),
                                        frame_id="f"),
        lel_pct=12.5, alarms=["high"],
        readings=[t["acme_msgs/msg/Reading"](name="ch4", value=0.25)])
    raw = bytes(store.serialize_cdr(msg, "acme_msgs/msg/Gas"))
    back: Any = store.deserialize_cdr(raw, "acme_msgs/msg/Gas")
    assert back.lel_pct == 12.5 and back.alarms == ["high"] and back.readings[0].value == 0.25
    # the mapper keeps a registered-but-unmapped type raw, decoding it first
    mapper = Ros2Mapper(store)
    out = mapper.map(ros_topic("/gas", device="drone-11"), "acme_msgs/msg/Gas", raw, TS, "g")
    assert out.raw is not None and out.raw.reason.startswith("no platform mapping")
    with pytest.raises(Exception, match="undecodable"):
        mapper.map(ros_topic("/gas", device="drone-11"), "acme_msgs/msg/Gas", raw[:9], TS, "g")


def test_register_msg_file_with_explicit_name(tmp_path: Path) -> None:
    path = tmp_path / "reading.msg"
    path.write_text(READING_MSG)
    store = make_typestore("jazzy")
    assert register_msg_file(store, path, "acme_msgs/msg/Reading") == ["acme_msgs/msg/Reading"]
    with pytest.raises(TypestoreError, match="expected"):
        register_msg_file(store, path)  # name cannot come from this path


def test_explicit_conflicting_definition_is_an_error() -> None:
    store = make_typestore("humble")
    with pytest.raises(TypestoreError, match="cannot register"):
        register_msg_text(store, "uint8 level\n", "rcl_interfaces/msg/Log")
    with pytest.raises(TypestoreError, match="cannot parse"):
        register_msg_text(store, "float64[ x\n", "acme_msgs/msg/Bad")
    with pytest.raises(TypestoreError, match="unknown type"):
        register_msg_text(store, "this is not a msg !!\n", "acme_msgs/msg/Bad")
    assert "acme_msgs/msg/Bad" not in store.fielddefs


def test_embedded_definitions_fill_in_only_missing_types() -> None:
    store = make_typestore("humble")
    before = store.fielddefs["rcl_interfaces/msg/Log"]
    # a stub like the one rosbag2's talker .db3 embeds must not replace the distro's type
    stub = MessageDefinition(MessageDefinitionFormat.MSG, "uint8 level")
    assert register_embedded(store, "rcl_interfaces/msg/Log", stub) == []
    assert store.fielddefs["rcl_interfaces/msg/Log"] == before
    full = MessageDefinition(MessageDefinitionFormat.MSG, GAS_MSG + "=" * 80 + "\nMSG: acme_msgs/"
                             "Reading\n" + READING_MSG)
    added = register_embedded(store, "acme_msgs/msg/Gas", full)
    assert set(added) == {"acme_msgs/msg/Gas", "acme_msgs/msg/Reading"}
    with pytest.raises(TypestoreError):
        register_embedded(store, "acme_msgs/msg/Broken",
                          MessageDefinition(MessageDefinitionFormat.MSG, "float64[ x\n"))
    assert register_embedded(store, "acme_msgs/msg/None",
                             MessageDefinition(MessageDefinitionFormat.NONE, "")) == []


def test_platform_metrics_type_round_trips_float64_exactly() -> None:
    store = make_typestore("humble")
    t = store.types
    values = np.array([0.1, 1e-300, 123456.789012345, -0.0])
    msg = t[METRICS_TYPE](header=t["std_msgs/msg/Header"](
        stamp=t["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id=""),
        names=["a", "b", "c", "d"], values=values)
    back: Any = store.deserialize_cdr(bytes(store.serialize_cdr(msg, METRICS_TYPE)),
                                      METRICS_TYPE)
    assert back.values.tolist() == values.tolist()
