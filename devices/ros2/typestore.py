"""ROS 2 typestores: one per distro, plus message types registered at run time.

``make_typestore("humble")`` returns rosbags' Humble store with the platform's own
``urbanops_msgs`` types (``devices/ros2/msgs/*.msg``) added. More types come from ``.msg``
files (``register_msg_file`` / ``register_msg_dir``) or from definitions embedded in a bag
(``register_embedded``).

Precedence (why): a type the store already knows keeps its distro definition when a bag
embeds a different one. Real bags carry wrong embedded definitions — rosbag2's own talker
test bag stores ``uint8 level`` as the whole of ``rcl_interfaces/msg/Log`` — while standard
types do not change on the wire between Humble and Jazzy (only constants differ). Explicit
registration by an operator (``.msg`` files) that conflicts with a known type is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from rosbags.interfaces import MessageDefinition, MessageDefinitionFormat, Nodetype
from rosbags.typesys import Stores, TypesysError, get_types_from_idl, get_types_from_msg
from rosbags.typesys import get_typestore as _rosbags_store
from rosbags.typesys.store import Typestore

from devices.ros2.errors import TypestoreError

DEFAULT_DISTRO = "humble"
DISTROS: dict[str, Stores] = {
    "foxy": Stores.ROS2_FOXY,
    "galactic": Stores.ROS2_GALACTIC,
    "humble": Stores.ROS2_HUMBLE,
    "iron": Stores.ROS2_IRON,
    "jazzy": Stores.ROS2_JAZZY,
    "kilted": Stores.ROS2_KILTED,
}
URBANOPS_PACKAGE = "urbanops_msgs"
METRICS_TYPE = "urbanops_msgs/msg/Metrics"
EVENT_TYPE = "urbanops_msgs/msg/Event"
STATUS_TYPE = "urbanops_msgs/msg/DeviceStatus"
MAX_DEFINITION_CHARS = 256 * 1024
_IDL_SEP = "=" * 80 + "\n"

__all__ = [
    "DEFAULT_DISTRO", "DISTROS", "EVENT_TYPE", "METRICS_TYPE", "STATUS_TYPE", "Typestore",
    "is_known", "make_typestore", "normalize_type", "register_embedded", "register_msg_dir",
    "register_msg_file", "register_msg_text",
]


def normalize_type(name: str) -> str:
    """``pkg/Name`` (ROS 1 / MCAP style) → ``pkg/msg/Name``; full names pass unchanged."""
    parts = name.strip().split("/")
    if len(parts) == 2 and all(parts):
        return f"{parts[0]}/msg/{parts[1]}"
    if len(parts) == 3 and all(parts):
        return "/".join(parts)
    raise TypestoreError(f"not a ROS 2 type name: {name[:80]!r}")


def make_typestore(
    distro: str = DEFAULT_DISTRO,
    *,
    msg_files: Iterable[Path] = (),
    msg_dirs: Iterable[Path] = (),
    urbanops: bool = True,
) -> Typestore:
    """A fresh store for ``distro`` (humble, jazzy, ...), with optional extra ``.msg`` types."""
    try:
        store = _rosbags_store(DISTROS[distro.lower()])
    except KeyError as err:
        raise TypestoreError(
            f"unknown ROS 2 distro {distro!r} (one of {', '.join(sorted(DISTROS))})"
        ) from err
    if urbanops:
        for entry in sorted(resources.files("devices.ros2.msgs").iterdir(), key=lambda p: p.name):
            if entry.name.endswith(".msg"):
                name = f"{URBANOPS_PACKAGE}/msg/{entry.name[:-4]}"
                register_msg_text(store, entry.read_text(), name)
    for directory in msg_dirs:
        register_msg_dir(store, directory)
    for path in msg_files:
        register_msg_file(store, path)
    return store


def is_known(store: Typestore, ros_type: str) -> bool:
    return ros_type in store.fielddefs


def _references(desc: Any) -> Iterator[str]:
    """Type names a field description refers to (rosbags: (Nodetype, details) tuples)."""
    nodetype, detail = desc
    if nodetype == Nodetype.NAME:
        yield detail
    elif nodetype in (Nodetype.ARRAY, Nodetype.SEQUENCE):
        yield from _references(detail[0])


def _register(store: Typestore, typs: dict[str, Any], *, lenient: bool) -> list[str]:
    new = {k: v for k, v in typs.items() if k not in store.fielddefs} if lenient else typs
    if not new:
        return []
    # rosbags' parser is lenient ("this is not a msg" parses as a field of type this): a
    # definition that refers to types nobody defines would only fail later, on every message.
    known = set(store.fielddefs) | set(new)
    missing = {ref for _, fields in new.values() for _, desc in fields
               for ref in _references(desc) if ref not in known}
    if missing:
        raise TypestoreError(
            f"definition of {', '.join(sorted(new))[:120]} refers to unknown type(s) "
            f"{', '.join(sorted(missing))[:200]}")
    before = set(store.fielddefs)
    try:
        store.register(new)  # type: ignore[arg-type]  # rosbags' Typesdict
    except (TypesysError, KeyError, ValueError, SyntaxError) as err:
        raise TypestoreError(f"cannot register {', '.join(sorted(new))[:200]}: {err}") from err
    return sorted(set(store.fielddefs) - before)


def register_msg_text(store: Typestore, text: str, ros_type: str) -> list[str]:
    """Register a ``.msg`` definition (may carry ``MSG:`` sections for its dependencies).

    Returns the type names that were new. A conflict with a known type raises.
    """
    name = normalize_type(ros_type)
    if len(text) > MAX_DEFINITION_CHARS:
        raise TypestoreError(f"definition of {name} longer than {MAX_DEFINITION_CHARS} chars")
    try:
        typs = get_types_from_msg(text, name)
    except Exception as err:  # rosbags' parser raises several kinds on bad input
        raise TypestoreError(f"cannot parse .msg definition of {name}: {err}") from err
    return _register(store, dict(typs), lenient=False)


def register_msg_file(store: Typestore, path: Path, ros_type: str | None = None) -> list[str]:
    """Register ``.../pkg/msg/Name.msg`` (the type name comes from the path unless given)."""
    if ros_type is None:
        if path.suffix != ".msg" or path.parent.name != "msg":
            raise TypestoreError(f"{path}: expected .../<package>/msg/<Name>.msg or a type name")
        ros_type = f"{path.parent.parent.name}/msg/{path.stem}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TypestoreError(f"cannot read {path}: {err}") from err
    return register_msg_text(store, text, ros_type)


def register_msg_dir(store: Typestore, root: Path) -> list[str]:
    """Register every ``<package>/msg/<Name>.msg`` below ``root``.

    Files may depend on each other, so they are registered in passes until none is left
    or a pass makes no progress.
    """
    pending = sorted(root.rglob("msg/*.msg"))
    added: list[str] = []
    while pending:
        failed: list[Path] = []
        errors: list[str] = []
        for path in pending:
            try:
                added += register_msg_file(store, path)
            except TypestoreError as err:
                failed.append(path)
                errors.append(str(err))
        if len(failed) == len(pending):
            raise TypestoreError("; ".join(errors)[:500])
        pending = failed
    return added


def register_embedded(store: Typestore, ros_type: str, msgdef: MessageDefinition) -> list[str]:
    """Register the types a bag embeds for ``ros_type``, only those the store lacks.

    Returns the new type names; raises ``TypestoreError`` when the definition is unusable.
    """
    text = msgdef.data
    if msgdef.format == MessageDefinitionFormat.NONE or not text.strip():
        return []
    if len(text) > MAX_DEFINITION_CHARS:
        raise TypestoreError(f"embedded definition of {ros_type} is too long")
    typs: dict[str, Any] = {}
    try:
        if msgdef.format == MessageDefinitionFormat.MSG:
            typs.update(get_types_from_msg(text, normalize_type(ros_type)))
        elif text.startswith(f"{_IDL_SEP}IDL: "):
            for part in text.split(_IDL_SEP)[1:]:
                typs.update(get_types_from_idl(part.split("\n", 1)[1]))
        else:
            typs.update(get_types_from_idl(text))
    except TypestoreError:
        raise
    except Exception as err:  # rosbags' parsers raise several kinds on bad input
        raise TypestoreError(f"cannot parse embedded definition of {ros_type}: {err}") from err
    return _register(store, typs, lenient=True)
