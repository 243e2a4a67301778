"""Packs read once per process, for code that never reloads (simulators, benchmarks, tests).

The gateway holds its pack in ``gateway.city.CityHolder`` instead, so SIGHUP can swap it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from citypack.pack import DEMO_PACK, CityPack, load_pack
from devices.geography import District, GeographyError


@functools.cache
def _pack(directory: str) -> CityPack:
    return load_pack(directory)


def pack_at(directory: Path | str | None = None) -> CityPack:
    """The pack in ``directory`` (default: the shipped demo pack), read on first use."""
    return _pack(str(Path(directory or DEMO_PACK).resolve()))


def geography(directory: Path | str | None = None) -> dict[str, District]:
    return pack_at(directory).geography


def district(name: str, directory: Path | str | None = None) -> District:
    """One district of a pack; ``GeographyError`` names the known ones."""
    districts = geography(directory)
    try:
        return districts[name]
    except KeyError:
        raise GeographyError(f"unknown district {name!r} (known: {', '.join(sorted(districts))})") from None
