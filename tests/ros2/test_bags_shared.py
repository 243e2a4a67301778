"""The real rosbag2 bags in ../shared/data/ros2bags import with their metadata.yaml counts."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from rosbags.rosbag2 import Reader

from devices.encoding import Publish
from devices.ros2.bags import BagFile, bag_typestore, decode_or_none
from devices.ros2.mapping import Ros2Mapper
from devices.topics import Kind, parse_topic
from gateway.bags.importer import ImportOptions, import_bag
from gateway.local_services import Mosquitto
from tests.ros2.bagtools import SHARED_BAGS, Collector, metadata_counts, target

BAGS = sorted(p for p in SHARED_BAGS.glob("*") if (p / "metadata.yaml").exists()) \
    if SHARED_BAGS.exists() else []
pytestmark = pytest.mark.skipif(not BAGS, reason=f"no shared bags under {SHARED_BAGS}")
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def test_all_four_shared_bags_are_there() -> None:
    assert {p.name for p in BAGS} >= {"talker_sqlite3", "talker_mcap", "cdr_test_sqlite3",
                                      "cdr_test_mcap"}


@pytest.mark.parametrize("bag", BAGS, ids=lambda p: p.name)
def test_dry_run_counts_match_metadata(bag: Path) -> None:
    sent: list[Publish] = []
    opts = ImportOptions("drone-07", "futian", Kind.DRONE, rate=None)
    report = import_bag(bag, opts, None, now=NOW, sink=sent.append)
    assert report.ok and report.counts() == metadata_counts(bag)
    assert len(sent) == sum(metadata_counts(bag).values()) == report.published
    for t in report.topics:
        assert t.decodable == t.read == t.published  # every message of every topic decodes
    ts = sorted(datetime.fromisoformat(dict(p.user_properties)["ts"]) for p in sent)
    assert ts[0] == NOW  # shifted: the recording starts "now", spacing kept
    assert len({dict(p.user_properties)["msg_id"] for p in sent}) == len(sent)


@pytest.mark.parametrize("bag", BAGS, ids=lambda p: p.name)
def test_import_through_mqtt_delivers_metadata_counts(bag: Path, broker: Mosquitto) -> None:
    device = f"bag-{bag.name.replace('_', '-')}"
    prefix = f"city/futian/robot/{device}/ros2/"
    collector = Collector(broker.port, prefix + "#")
    try:
        expected = metadata_counts(bag)
        opts = ImportOptions(device, "futian", Kind.ROBOT, rate=None, time_mode="original")
        report = import_bag(bag, opts, target(broker.port))
        got = collector.wait_for(sum(expected.values()))
    finally:
        collector.close()
    assert report.ok and report.counts() == expected
    assert collector.per_ros_topic(prefix) == {k: v for k, v in expected.items() if v}
    with BagFile(bag) as reader:
        originals = sorted(m.data for m in reader.messages())
    assert sorted(m.payload for m in got) == originals  # CDR bytes unchanged
    for m in got:
        assert m.props["ros_type"] and m.props["msg_id"].startswith("bag:")
        assert datetime.fromisoformat(m.props["ts"]).year == 2020  # recorded time kept


def test_gateway_mapper_reads_every_published_talker_message(broker: Mosquitto) -> None:
    """What the gateway would do with the talker bag: String and Log are kept raw."""
    sent: list[Publish] = []
    import_bag(SHARED_BAGS / "talker_sqlite3", ImportOptions("drone-07", "futian", rate=None),
               None, now=NOW, sink=sent.append)
    mapper = Ros2Mapper()
    raw = [mapper.map_mqtt(parse_topic(p.topic), p.payload, p.user_properties, NOW).raw
           for p in sent]
    assert all(r is not None for r in raw)
    assert {r.ros_type for r in raw if r} == {"std_msgs/msg/String", "rcl_interfaces/msg/Log"}
    assert {r.reason for r in raw if r} == {"no platform mapping for this type"}


@pytest.mark.parametrize("name", ["talker_sqlite3", "talker_mcap"])
def test_why_rosbags_reads_nothing_from_the_talker_bags(name: str) -> None:
    """The QoS profiles in metadata.yaml and in the storage file disagree (same meaning,
    different encoding of "infinite"); rosbags' directory reader pairs topics on them."""
    bag = SHARED_BAGS / name
    with Reader(bag) as directory:
        meta_qos = {c.topic: cast(Any, c.ext).offered_qos_profiles for c in directory.connections}
    storage_file = next(p for p in bag.iterdir() if p.suffix in (".db3", ".mcap"))
    with Reader(storage_file) as storage:
        file_qos = {c.topic: cast(Any, c.ext).offered_qos_profiles for c in storage.connections}
        assert sum(1 for _ in storage.messages()) == 20  # the file itself holds them all
    for topic, profiles in meta_qos.items():
        assert profiles[0].deadline.sec == 0
        assert file_qos[topic][0].deadline.sec == 2147483647
    with BagFile(bag) as ours:
        assert ours.message_count == 20 and sum(1 for _ in ours.messages()) == 20


def test_talker_sqlite3_embedded_stub_definitions_are_not_used() -> None:
    with BagFile(SHARED_BAGS / "talker_sqlite3") as bag:
        embedded = {t.ros_type: t.msgdef.data for t in bag.topics.values()}
        assert embedded["rcl_interfaces/msg/Log"] == "uint8 level"  # a stub, not the type
        store, sources = bag_typestore(bag, "humble")
        assert sources["rcl_interfaces/msg/Log"] == "distro"
        logs = [decode_or_none(store, m.ros_type, m.data) for m in bag.messages()
                if m.topic == "/rosout"]
    assert len(logs) == 10 and all(log is not None and log.level == 20 for log in logs)


def test_cdr_test_types_come_from_the_bag() -> None:
    for name in ("cdr_test_sqlite3", "cdr_test_mcap"):
        with BagFile(SHARED_BAGS / name) as bag:
            store, sources = bag_typestore(bag, "jazzy")
            assert sources == {"test_msgs/msg/Arrays": "embedded",
                               "test_msgs/msg/BasicTypes": "embedded"}
            decoded = [decode_or_none(store, m.ros_type, m.data) for m in bag.messages()]
        assert all(d is not None for d in decoded)
        basic = [d for d in decoded if d.__msgtype__ == "test_msgs/msg/BasicTypes"]
        assert [b.int32_value for b in basic] == [123, 123, 123]
        arrays = [d for d in decoded if d.__msgtype__ == "test_msgs/msg/Arrays"]
        assert len(arrays) == 4
        a = arrays[0]  # values after strings and nested arrays decode in place: aligned
        assert a.string_values[0] == "Complex Hello1"
        assert a.float64_values_default.tolist() == [3.1415, 0.0, -3.1415]
        assert a.string_values_default == ["", "max value", "min value"]
        assert a.uint64_values_default.tolist() == [0, 1, 18446744073709551615]


def test_rate_paces_the_replay(broker: Mosquitto) -> None:
    opts = ImportOptions("drone-09", "futian", rate=10.0)  # 4.5 s recording → ~0.45 s
    started = time.monotonic()
    report = import_bag(SHARED_BAGS / "talker_mcap", opts, target(broker.port))
    elapsed = time.monotonic() - started
    assert report.ok and 0.4 < elapsed < 5.0
