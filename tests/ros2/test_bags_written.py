"""Bags written here with rosbags (sqlite3/MCAP, Humble/Jazzy, a custom type, compression)
import with the right counts, and the gateway mapper turns them into platform data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from rosbags.typesys.store import Typestore

from devices.encoding import Publish
from devices.ros2.convert import to_ns
from devices.ros2.mapping import Ros2Mapper
from devices.ros2.typestore import make_typestore, register_msg_text
from devices.topics import Kind, parse_topic
from gateway.bags.importer import ImportOptions, import_bag
from gateway.local_services import Mosquitto
from tests.ros2.bagtools import Collector, target
from tests.ros2.conftest import Build

START = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
GAS = "acme_msgs/msg/Gas"
N_FIX, N_BAT, N_GAS = 12, 5, 3


def _write(path: Path, store: Typestore, plugin: StoragePlugin) -> None:
    register_msg_text(store, "std_msgs/Header header\nfloat32 lel_pct\nstring note\n", GAS)
    b = Build(store)
    with Writer(path, version=9, storage_plugin=plugin) as w:
        fix = w.add_connection("/fix", "sensor_msgs/msg/NavSatFix", typestore=store)
        bat = w.add_connection("/battery", "sensor_msgs/msg/BatteryState", typestore=store)
        gas = w.add_connection("/gas", GAS, typestore=store)
        w.add_connection("/empty", "std_msgs/msg/String", typestore=store)
        for i in range(N_FIX):
            ts = START + timedelta(seconds=i)
            w.write(fix, to_ns(ts), b.fix(lat=22.5 + i / 1000, lon=114.0, alt=50.0 + i, ts=ts))
        for i in range(N_BAT):
            w.write(bat, to_ns(START + timedelta(seconds=2 * i, milliseconds=500)),
                    b.battery(0.9 - i / 100))
        for i in range(N_GAS):
            msg = store.types[GAS](header=b.header(START), lel_pct=float(i), note=f"n{i}")
            w.write(gas, to_ns(START + timedelta(seconds=3 * i)), b.cdr(msg, GAS))


def _write_compressed(path: Path, store: Typestore, plugin: StoragePlugin,
                      mode: CompressionMode) -> None:
    b = Build(store)
    w = Writer(path, version=9, storage_plugin=plugin)
    w.set_compression(mode, CompressionFormat.ZSTD)
    with w:
        fix = w.add_connection("/fix", "sensor_msgs/msg/NavSatFix", typestore=store)
        for i in range(N_FIX):
            w.write(fix, to_ns(START + timedelta(seconds=i)), b.fix(lat=22.5 + i / 1000))


CASES = [(plugin, distro) for plugin in (StoragePlugin.SQLITE3, StoragePlugin.MCAP)
         for distro in ("humble", "jazzy")]


@pytest.mark.parametrize(("plugin", "distro"), CASES, ids=lambda v: getattr(v, "name", v))
def test_written_bag_imports_and_maps(tmp_path: Path, plugin: StoragePlugin, distro: str) -> None:
    bag = tmp_path / "mission"
    _write(bag, make_typestore(distro), plugin)
    sent: list[Publish] = []
    opts = ImportOptions("robot-05", "nanshan", Kind.ROBOT, rate=None, distro="humble",
                         time_mode="original")
    report = import_bag(bag, opts, None, sink=sent.append)
    assert report.ok
    assert report.counts() == {"/fix": N_FIX, "/battery": N_BAT, "/gas": N_GAS, "/empty": 0}
    by_topic = {t.ros_topic: t for t in report.topics}
    assert by_topic["/gas"].type_source == "embedded" and by_topic["/gas"].decodable == N_GAS
    assert by_topic["/fix"].type_source == "distro"

    mapper = Ros2Mapper(make_typestore("humble"))  # the gateway: no acme_msgs
    results = [mapper.map_mqtt(parse_topic(p.topic), p.payload, p.user_properties, START)
               for p in sent]
    fixes = sorted((r.position.ts, r.position.position.lat, r.position.position.alt_m)
                   for r in results if r.position)
    assert fixes == [(START + timedelta(seconds=i), 22.5 + i / 1000, 50.0 + i)
                     for i in range(N_FIX)]
    batteries = sorted(r.telemetry.metrics["battery_pct"] for r in results if r.telemetry)
    assert batteries == sorted(round(90.0 - i, 4) for i in range(N_BAT))
    raw = [r.raw for r in results if r.raw]
    assert len(raw) == N_GAS and {r.ros_type for r in raw} == {GAS}


def test_the_custom_type_decodes_with_the_bag_definition(tmp_path: Path) -> None:
    bag = tmp_path / "mission"
    _write(bag, make_typestore("jazzy"), StoragePlugin.MCAP)
    from devices.ros2.bags import BagFile, bag_typestore, decode_or_none

    with BagFile(bag) as reader:
        store, sources = bag_typestore(reader, "humble")
        notes = [decode_or_none(store, m.ros_type, m.data).note for m in reader.messages()
                 if m.ros_type == GAS]
    assert sources[GAS] == "embedded" and notes == ["n0", "n1", "n2"]


@pytest.mark.parametrize(("plugin", "mode"), [(StoragePlugin.SQLITE3, CompressionMode.FILE),
                                              (StoragePlugin.MCAP, CompressionMode.MESSAGE),
                                              (StoragePlugin.SQLITE3, CompressionMode.MESSAGE)])
def test_compressed_bags(tmp_path: Path, plugin: StoragePlugin, mode: CompressionMode) -> None:
    bag = tmp_path / "zipped"
    _write_compressed(bag, make_typestore("humble"), plugin, mode)
    report = import_bag(bag, ImportOptions("drone-01", "futian", rate=None), None)
    assert report.ok and report.counts() == {"/fix": N_FIX}
    assert report.topics[0].decodable == N_FIX


def test_single_storage_file_without_metadata(tmp_path: Path) -> None:
    bag = tmp_path / "mission"
    _write(bag, make_typestore("humble"), StoragePlugin.MCAP)
    (file,) = bag.glob("*.mcap")
    report = import_bag(file, ImportOptions("drone-01", "futian", rate=None), None)
    assert report.counts() == {"/fix": N_FIX, "/battery": N_BAT, "/gas": N_GAS, "/empty": 0}
    assert all(t.expected is None for t in report.topics)


def test_reimport_with_original_time_repeats_msg_ids(tmp_path: Path) -> None:
    bag = tmp_path / "mission"
    _write(bag, make_typestore("humble"), StoragePlugin.SQLITE3)
    runs = []
    for _ in range(2):
        sent: list[Publish] = []
        import_bag(bag, ImportOptions("d-1", "futian", rate=None, time_mode="original"), None,
                   sink=sent.append)
        runs.append([dict(p.user_properties)["msg_id"] for p in sent])
    assert runs[0] == runs[1] and len(set(runs[0])) == len(runs[0])


def test_bad_topic_name_is_reported_not_published(tmp_path: Path, broker: Mosquitto) -> None:
    store = make_typestore("humble")
    bag = tmp_path / "odd"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        odd = w.add_connection("/9bad", "std_msgs/msg/String", typestore=store)
        ok = w.add_connection("/chatter", "std_msgs/msg/String", typestore=store)
        for i in range(3):
            w.write(odd, to_ns(START) + i, Build(store).string("x"))
            w.write(ok, to_ns(START) + i, Build(store).string("y"))
    collector = Collector(broker.port, "city/futian/drone/odd-01/ros2/#")
    try:
        report = import_bag(bag, ImportOptions("odd-01", "futian", rate=None), target(broker.port))
        got = collector.wait_for(3)
    finally:
        collector.close()
    by_topic = {t.ros_topic: t for t in report.topics}
    assert by_topic["/9bad"].skipped and by_topic["/9bad"].published == 0
    assert by_topic["/9bad"].read == 3 and by_topic["/chatter"].published == 3
    assert len(got) == 3 and not report.ok  # metadata.yaml says 3 on /9bad
