"""``/``: the dashboard page is served self-contained and only calls existing routes."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient

from citypack import SHIPPED
from gateway.api import create_app
from gateway.api.routes_dashboard import DASHBOARD_DIR
from tests.api.conftest import make_settings

# The SVG namespace is an identifier that browsers never fetch.
ALLOWED_URLS = {"http://www.w3.org/2000/svg"}


@pytest.fixture()
def offline_client() -> TestClient:
    # The page needs no database; the lifespan is not entered.
    return TestClient(create_app(make_settings()))


def test_index_and_assets(offline_client: TestClient) -> None:
    res = offline_client.get("/")
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in res.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', res.text)
    assert "/dashboard/app.js" in assets and "/dashboard/app.css" in assets
    for asset in assets:
        assert asset.startswith("/dashboard/"), asset
        got = offline_client.get(asset)
        assert got.status_code == 200, asset
        kind = "javascript" if asset.endswith(".js") else "css"
        assert kind in got.headers["content-type"], asset
    assert offline_client.get("/dashboard/missing.js").status_code == 404


def test_no_external_assets() -> None:
    for path in DASHBOARD_DIR.iterdir():
        if path.suffix not in {".html", ".js", ".css"}:
            continue
        text = path.read_text()
        urls = set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"')]*", text))
        assert urls <= ALLOWED_URLS, (path.name, urls - ALLOWED_URLS)
        assert "@import" not in text and "style=" not in text, path.name  # CSP: no inline style


def test_page_calls_only_existing_routes(offline_client: TestClient) -> None:
    js = (DASHBOARD_DIR / "app.js").read_text()
    called = set(re.findall(r'"(/api/v1/[a-z/-]*)', js)) | set(re.findall(r'"(/healthz)"', js))
    assert {"/api/v1/devices", "/api/v1/dead-letters", "/api/v1/tokens/me"} <= called
    paths = offline_client.app.openapi()["paths"]  # type: ignore[attr-defined]
    templates = [re.sub(r"\{[^}]+\}", "[^/]+", p) for p in paths]
    for path in called:
        stem = path.rstrip("/")
        assert any(re.fullmatch(t, stem) or t.startswith(stem + "/") for t in templates), path


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("script", sorted(p.name for p in DASHBOARD_DIR.glob("*.js")))
def test_script_parses(script: str) -> None:
    subprocess.run(["node", "--check", str(DASHBOARD_DIR / script)], check=True)


def test_config_is_public_and_gives_the_city_clock() -> None:
    client = TestClient(create_app(make_settings(city_timezone="Europe/Lisbon")))
    res = client.get("/dashboard/config.json")
    assert res.status_code == 200 and res.json()["city_timezone"] == "Europe/Lisbon"
    assert "default-src 'self'" in res.headers["content-security-policy"]
    assert TestClient(create_app(make_settings())).get("/dashboard/config.json").json() == {
        "city_timezone": "Asia/Shanghai",
        "city": {"id": "shenzhen-demo", "zh": "深圳市（演示）", "en": "Shenzhen (demo)"}}
    harbour = TestClient(create_app(make_settings(city_dir=SHIPPED / "harbour-demo"))).get("/dashboard/config.json")
    assert harbour.json()["city_timezone"] == "Atlantic/Azores" and harbour.json()["city"]["id"] == "harbour-demo"
