"""The optional offline base map: a raster PMTiles file the city supplies
(``URBANOPS_BASEMAP_PMTILES``), served by the gateway with HTTP range requests and drawn under
the pack's layers by the vendored pmtiles + Leaflet; and the vendored files are the ones the
vendoring script pinned."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from gateway.api import create_app
from gateway.api.routes_dashboard import DASHBOARD_DIR
from tests.api.conftest import make_settings
from tests.api_tickets.conftest import LiveServer, png, serve
from tests.browser.test_dashboard_browser import browser as browser
from tests.browser.test_dashboard_browser import expect, sign_in
from tests.browser.test_dashboard_browser import pytestmark as pytestmark

WEST, SOUTH, EAST, NORTH = 113.85, 22.45, 114.25, 22.65  # around the demo pack's districts


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def write_basemap(path: Path, zooms: range = range(9, 15)) -> int:
    """A raster PMTiles archive of plain 256 px PNG tiles over the demo city; returns the tile count."""
    tile = png(256, 256)
    ids = []
    for z in zooms:
        (x0, y0), (x1, y1) = tile_xy(WEST, NORTH, z), tile_xy(EAST, SOUTH, z)
        ids += [zxy_to_tileid(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    with path.open("wb") as f:
        w = Writer(f)
        for tid in sorted(ids):
            w.write_tile(tid, tile)
        w.finalize({"tile_type": TileType.PNG, "tile_compression": Compression.NONE,
                    "min_zoom": zooms.start, "max_zoom": zooms.stop - 1,
                    "min_lon_e7": int(WEST * 1e7), "min_lat_e7": int(SOUTH * 1e7),
                    "max_lon_e7": int(EAST * 1e7), "max_lat_e7": int(NORTH * 1e7),
                    "center_zoom": 11, "center_lon_e7": int(114.05 * 1e7), "center_lat_e7": int(22.54 * 1e7)},
                   {"attribution": "test tiles"})
    return len(ids)


@pytest.fixture()
def basemap(tmp_path: Path) -> Path:
    path = tmp_path / "city.pmtiles"
    assert write_basemap(path) > 20
    return path


@pytest.fixture()
def basemap_server(db_url: str, data_dir: Path, basemap: Path) -> Iterator[LiveServer]:
    yield from serve(create_app(make_settings(database_url=db_url, data_dir=data_dir, basemap_pmtiles=basemap)))


def test_vendored_map_libraries_match_their_checksums() -> None:
    vendor = DASHBOARD_DIR / "vendor"
    lines = (vendor / "SHA256SUMS").read_text().splitlines()
    assert len(lines) >= 8
    for line in lines:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    assert "leaflet 1.9.4" in (vendor / "VERSIONS").read_text()


def test_basemap_is_served_in_ranges_and_only_when_configured(db_url: str, data_dir: Path, basemap: Path) -> None:
    with TestClient(create_app(make_settings(database_url=db_url, data_dir=data_dir, basemap_pmtiles=basemap))) as c:
        assert c.get("/dashboard/config.json").json()["basemap"] == "/dashboard/basemap.pmtiles"
        part = c.get("/dashboard/basemap.pmtiles", headers={"Range": "bytes=0-126"})
        assert part.status_code == 206 and len(part.content) == 127 and part.content[:7] == b"PMTiles"
    with TestClient(create_app(make_settings(database_url=db_url, data_dir=data_dir))) as c:
        assert "basemap" not in c.get("/dashboard/config.json").json()
        assert c.get("/dashboard/basemap.pmtiles").status_code == 404


def test_dashboard_draws_the_citys_base_map_under_its_layers(browser: Any, basemap_server: LiveServer,
                                                              tokens: dict[str, str]) -> None:
    page = sign_in(browser, basemap_server.url, tokens["operator"])
    tiles = page.locator("#map .leaflet-tile-pane img.leaflet-tile")
    expect(tiles.first).to_have_js_property("naturalWidth", 256, timeout=10_000)
    assert (tiles.first.get_attribute("src") or "").startswith("blob:")
    expect(page.locator("#map .district-label")).to_have_count(3)  # the pack's layers still on top
    expect(page.locator("#map .leaflet-control-attribution")).to_contain_text("base map")
    page.close()
