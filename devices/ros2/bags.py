"""Read rosbag2 bags (sqlite3 ``.db3`` or MCAP; directory or single file) message by message.

Why not ``rosbags.highlevel.AnyReader`` / ``rosbags.rosbag2.Reader`` on the directory:
rosbags (0.11.9) pairs each topic in ``metadata.yaml`` with the topic in the storage file
by (name, type, serialization format, *parsed QoS profiles*) and silently skips topics
that do not pair. Bags written by one rosbag2 version and re-indexed by another disagree
there: rosbag2's own talker test bags state deadline/lifespan/liveliness lease as
``sec: 0, nsec: 0`` in metadata.yaml but ``2147483647 / 4294967295`` (the same "infinite")
in the .db3 ``topics`` table and the MCAP channel metadata, so rosbags reads 0 of their
20 messages. This module opens each storage file with rosbags' per-file reader (which
reads them all), pairs topics by (name, type) only, and takes the expected per-topic
counts from metadata.yaml so the caller can check them.

Second trap in the same bag: its .db3 embeds stub definitions (``uint8 level`` as the
whole of ``rcl_interfaces/msg/Log``). ``bag_typestore`` therefore prefers the distro's
definition of any type it knows and uses embedded ones only for the others
(``test_msgs/msg/Arrays`` etc.); types with neither stay undecoded (stored raw).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from types import TracebackType
from typing import Any

import yaml
from rosbags.interfaces import MessageDefinition, MessageDefinitionFormat
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.typesys.store import Typestore

from devices.ros2.errors import Ros2Error, TypestoreError
from devices.ros2.typestore import make_typestore, normalize_type, register_embedded

try:  # Python 3.14 has it in the standard library; rosbags depends on the backport before
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the Python version
    from backports import zstd  # type: ignore[no-redef]

STORAGE_SUFFIXES = (".db3", ".mcap")
_NO_DEF = MessageDefinition(MessageDefinitionFormat.NONE, "")


class BagError(Ros2Error):
    """A bag that cannot be opened or read."""


@dataclass(slots=True)
class BagTopic:
    name: str
    ros_type: str
    expected: int | None = None  # per metadata.yaml; None when the bag has none
    in_storage: int = 0  # what the storage files hold
    msgdef: MessageDefinition = _NO_DEF


@dataclass(frozen=True, slots=True)
class BagMessage:
    topic: str
    ros_type: str
    log_time_ns: int
    data: bytes


@dataclass
class BagFile:
    """``with BagFile(path) as bag: for m in bag.messages(): ...``"""

    path: Path
    storage_id: str = ""
    metadata_version: int | None = None
    compression_mode: str = ""
    topics: dict[tuple[str, str], BagTopic] = field(default_factory=dict)
    _files: list[Path] = field(default_factory=list)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> BagFile:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def message_count(self) -> int:
        return sum(t.in_storage for t in self.topics.values())

    # -- opening ------------------------------------------------------------------------
    def _open(self) -> None:
        path = self.path
        if not path.exists():
            raise BagError(f"{path} does not exist")
        if path.is_file():
            if path.suffix not in STORAGE_SUFFIXES:
                raise BagError(f"{path}: expected a bag directory, .db3 or .mcap file")
            self.storage_id = "sqlite3" if path.suffix == ".db3" else "mcap"
            self._files = [path]
        elif (path / "metadata.yaml").exists():
            self._read_metadata(path / "metadata.yaml")
        else:  # a directory of storage files without metadata.yaml (e.g. a copied bag)
            self._files = sorted(p for p in path.iterdir() if p.suffix in STORAGE_SUFFIXES)
            if not self._files:
                raise BagError(f"{path}: no metadata.yaml and no .db3/.mcap files")
            self.storage_id = "sqlite3" if self._files[0].suffix == ".db3" else "mcap"
        for file in self._files:
            with self._reader(file) as reader:
                for conn in reader.connections:
                    topic = self._topic(conn.topic, conn.msgtype)
                    topic.in_storage += conn.msgcount
                    if topic.msgdef.format == MessageDefinitionFormat.NONE:
                        topic.msgdef = conn.msgdef

    def _read_metadata(self, meta_path: Path) -> None:
        try:
            info = yaml.safe_load(meta_path.read_text())["rosbag2_bagfile_information"]
            self.metadata_version = int(info["version"])
            self.storage_id = str(info["storage_identifier"])
            self.compression_mode = str(info.get("compression_mode") or "").lower()
            if self.compression_mode == "none":
                self.compression_mode = ""
            fmt = str(info.get("compression_format") or "")
            if self.compression_mode and fmt != "zstd":
                raise BagError(f"compression format {fmt!r} is not supported (zstd only)")
            names = [PurePath(x).name for x in info["relative_file_paths"]]
            for entry in info.get("topics_with_message_count") or []:
                meta = entry["topic_metadata"]
                if meta.get("serialization_format", "cdr") != "cdr":
                    raise BagError(f"topic {meta['name']}: only CDR serialization is supported")
                topic = self._topic(meta["name"], meta["type"])
                topic.expected = (topic.expected or 0) + int(entry["message_count"])
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as err:
            raise BagError(f"{meta_path}: unreadable metadata: {err}") from err
        files = [meta_path.parent / n for n in names]
        if missing := [f.name for f in files if not f.exists()]:
            raise BagError(f"{meta_path.parent}: storage files missing: {missing}")
        self._files = [self._decompressed(f) for f in files] if self.compression_mode == "file" \
            else files

    def _decompressed(self, file: Path) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="urbanops-bag-")
        target = Path(self._tmp.name) / (file.stem if file.suffix == ".zstd" else file.name)
        with file.open("rb") as raw, zstd.open(raw, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        return target

    def _topic(self, name: str, ros_type: str) -> BagTopic:
        try:
            ros_type = normalize_type(ros_type)
        except TypestoreError as err:
            raise BagError(f"topic {name}: {err}") from err
        key = (name, ros_type)
        if key not in self.topics:
            self.topics[key] = BagTopic(name, ros_type)
        return self.topics[key]

    @staticmethod
    @contextmanager
    def _reader(file: Path) -> Iterator[Reader]:
        reader = Reader(file)
        try:
            reader.open()
        except (ReaderError, OSError) as err:
            raise BagError(f"{file}: {err}") from err
        try:
            yield reader
        finally:
            reader.close()

    # -- reading ------------------------------------------------------------------------
    def messages(self) -> Iterator[BagMessage]:
        """All messages, file by file (rosbag2 splits files in time order), each file in
        log-time order."""
        for file in self._files:
            with self._reader(file) as reader:
                try:
                    for conn, log_ns, data in reader.messages():
                        raw = bytes(data)
                        if self.compression_mode == "message":
                            raw = zstd.decompress(raw)
                        yield BagMessage(conn.topic, normalize_type(conn.msgtype), log_ns, raw)
                except ReaderError as err:
                    raise BagError(f"{file}: {err}") from err


def bag_typestore(bag: BagFile, distro: str) -> tuple[Typestore, dict[str, str]]:
    """A typestore for ``bag`` and, per type, where its definition came from:
    ``distro``, ``embedded``, ``unknown`` (no definition anywhere) or ``invalid: ...``."""
    store = make_typestore(distro)
    platform_types = set(store.fielddefs)
    invalid: dict[str, str] = {}
    for topic in bag.topics.values():
        if topic.ros_type not in store.fielddefs:
            try:
                register_embedded(store, topic.ros_type, topic.msgdef)
            except TypestoreError as err:
                invalid[topic.ros_type] = f"invalid: {err}"[:200]
    source: dict[str, str] = {}
    for topic in bag.topics.values():
        name = topic.ros_type
        source[name] = ("distro" if name in platform_types else "embedded"
                        if name in store.fielddefs else invalid.get(name, "unknown"))
    return store, source


def decode_or_none(store: Typestore, ros_type: str, data: bytes) -> Any:
    """Decoded message, or ``None`` when the type is unknown or the bytes do not decode."""
    if ros_type not in store.fielddefs:
        return None
    try:
        return store.deserialize_cdr(data, ros_type)
    except Exception:  # rosbags raises several kinds on bad bytes
        return None
