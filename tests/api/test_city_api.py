"""Another city with no code change: the harbour pack drives districts, map layers, Open311's
district and the API's city view; an admin reload refuses a broken pack and keeps the old one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from citypack import SHIPPED
from gateway.api import create_app
from gateway.security.auth import Role
from tests.api.conftest import Db, bearer, make_settings


def test_a_second_city_pack_runs_the_api(db_url: str, db: Db, tmp_path: Path) -> None:
    pack = tmp_path / "harbour"
    shutil.copytree(SHIPPED / "harbour-demo", pack)
    op, admin = db.token(Role.OPERATOR)[1], db.token(Role.ADMIN)[1]
    with TestClient(create_app(make_settings(database_url=db_url, city_dir=pack))) as client:
        city = client.get("/api/v1/city", headers=bearer(op)).json()
        assert city["id"] == "harbour-demo" and [d["id"] for d in city["districts"]] == ["oldport", "hillside"]
        assert city["sla_minutes"]["flood"]["critical"] == 10 and city["timezone"] == "Atlantic/Azores"
        layers = client.get("/api/v1/map/layers.geojson", headers=bearer(op)).json()
        kinds = {(f["properties"]["kind"], f["properties"].get("name_en") or f["properties"].get("name"))
                 for f in layers["features"]}
        assert {("district", "Old Port"), ("district", "Hillside"), ("street", "Quay Street"),
                ("place", "Fish Market"), ("zone", "Harbour School gate")} <= kinds
        assert not any(f["properties"].get("district") == "futian" for f in layers["features"])

        res = client.post("/open311/v2/requests.json", headers=bearer(op), json={
            "service_code": "flood", "description": "Water over the quay by the fish market", "lat": 44.995,
            "long": -30.040})
        assert res.status_code == 201, res.text
        rid = res.json()[0]["service_request_id"]
        assert db.execute("SELECT district FROM observations WHERE observation_id = %s", (rid,)) == [("oldport",)]

        districts = pack / "districts.geojson"
        good = districts.read_text()
        doc = json.loads(good)
        doc["features"][0]["properties"]["id"] = "Old Port!"
        districts.write_text(json.dumps(doc))
        assert client.post("/api/v1/admin/city/reload", headers=bearer(op)).status_code == 403
        refused = client.post("/api/v1/admin/city/reload", headers=bearer(admin))
        assert refused.status_code == 422
        assert any("districts.geojson, feature 0 (Old Port!), properties.id" in p for p in refused.json()["problems"])
        assert refused.json()["sha256"] == city["sha256"]  # the running pack stays
        assert client.get("/api/v1/city", headers=bearer(op)).json()["sha256"] == city["sha256"]

        doc["features"][0]["properties"]["id"] = "harbour"
        districts.write_text(json.dumps(doc))
        (pack / "zones.geojson").write_text(
            (pack / "zones.geojson").read_text().replace('"oldport"', '"harbour"'))
        ok = client.post("/api/v1/admin/city/reload", headers=bearer(admin))
        assert ok.status_code == 200 and ok.json()["ok"] and ok.json()["sha256"] != city["sha256"]
        after = client.get("/api/v1/city", headers=bearer(op)).json()
        assert [d["id"] for d in after["districts"]] == ["harbour", "hillside"]
        res = client.post("/open311/v2/requests.json", headers=bearer(op), json={
            "service_code": "flood", "description": "Still flooded at the quay", "lat": 44.995, "long": -30.040})
        rid = res.json()[0]["service_request_id"]
        assert db.execute("SELECT district FROM observations WHERE observation_id = %s", (rid,)) == [("harbour",)]


def test_incidents_say_where_they_are_in_each_language(db_url: str, db: Db, tmp_path: Path) -> None:
    from citypack import DEMO_PACK, load_pack
    from tests.api_tickets.conftest import Seed

    Seed(db).incident("inc-where", lat=22.5375, lon=114.056)  # by Futian Station, its ticket in English
    Seed(db).incident("inc-nowhere", ticket=False, lat=None, lon=None)  # type: ignore[arg-type]
    pack = load_pack(DEMO_PACK)
    want = {lang: pack.address(22.5375, 114.056, lang, "futian").text(lang) for lang in ("zh", "en")}
    assert want["zh"] and want["zh"].startswith("福田区 ") and want["en"] and want["en"].endswith(", Futian")
    with TestClient(create_app(make_settings(database_url=db_url, data_dir=tmp_path))) as client:
        auth = bearer(db.token(Role.OPERATOR)[1])
        items = {i["incident_id"]: i for i in client.get("/api/v1/incidents", headers=auth).json()["items"]}
        detail = client.get("/api/v1/incidents/inc-where", headers=auth).json()
    assert items["inc-where"]["address"] == want == detail["address"]
    assert detail["place"] == want["en"]  # the language of its ticket
    assert items["inc-nowhere"]["address"] == {} and items["inc-nowhere"]["place"] is None
