"""City packs: the shipped ones load, a broken one is refused with precise problems, the
gateway's holder reloads without losing a good pack, and tickets take the pack's SLA and names."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from citypack import DEMO_PACK, SHIPPED, PackError, load_pack
from gateway.city import CityHolder
from triage.backend import RulesBackend
from triage.models import Incident

HARBOUR = SHIPPED / "harbour-demo"


def test_shipped_packs_load() -> None:
    demo, harbour = load_pack(DEMO_PACK), load_pack(HARBOUR)
    assert list(demo.districts) == ["futian", "nanshan", "luohu"] and demo.config.approximate
    assert list(harbour.districts) == ["oldport", "hillside"] and harbour.config.timezone == "Atlantic/Azores"
    assert demo.sha256 != harbour.sha256
    for pack in (demo, harbour):
        for d in pack.districts.values():
            assert pack.district_at(d.center.y, d.center.x) == d.id
        assert {p.district for p in pack.places} <= set(pack.districts)
        for plan_id in {p.id for p in pack.plans}:  # every plan in both languages, same sections
            zh, en = pack.plan(plan_id, "zh"), pack.plan(plan_id, "en")
            assert zh and en and zh.lang == "zh" and en.lang == "en"
            assert [s.number for s in zh.sections] == [s.number for s in en.sections]


def test_district_outlines_decide_and_addresses_name_places() -> None:
    demo = load_pack(DEMO_PACK)
    assert demo.district_at(22.5329, 113.9305) == "nanshan"
    assert demo.district_at(22.5484, 114.1315) == "luohu"
    assert demo.district_at(22.30, 114.30) is None  # the sea south-east of the demo outlines
    # A chamfered corner: inside nanshan's bounding box, outside its outline.
    assert demo.geography["nanshan"].contains(22.619, 113.881) and demo.district_at(22.619, 113.881) is None
    at_park = demo.address(22.5568, 114.0552, "zh")
    assert at_park.district == "futian" and at_park.place == "莲花山公园" and at_park.place_m is not None
    assert at_park.text("zh").startswith("福田区 莲花山公园附近")
    en = demo.address(22.5568, 114.0552, "en").text("en")
    assert en is not None and en.startswith("Lianhuashan Park") and en.endswith(", Futian")
    street = demo.address(22.5398, 114.0300, "en")
    assert street.street == "Shennan Boulevard" and street.street_m is not None and street.street_m < 50
    far = demo.address(22.30, 114.30, "en")
    assert far.district is None and far.text("en") is None


def _copy(tmp_path: Path) -> Path:
    pack = tmp_path / "pack"
    shutil.copytree(HARBOUR, pack)
    return pack


def _edit_geojson(path: Path, index: int, **props: object) -> None:
    doc = json.loads(path.read_text())
    doc["features"][index]["properties"].update(props)
    path.write_text(json.dumps(doc))


def test_every_problem_is_listed_with_file_feature_and_field(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    city = yaml.safe_load((pack / "city.yaml").read_text())
    del city["sla"]["default"]["high"]
    city["timezone"] = "Mars/Olympus"
    del city["agencies"]["transport"]
    (pack / "city.yaml").write_text(yaml.safe_dump(city, allow_unicode=True))
    districts = json.loads((pack / "districts.geojson").read_text())
    ring = districts["features"][1]["geometry"]["coordinates"][0]  # hillside's west edge moved into oldport
    districts["features"][1]["geometry"]["coordinates"][0] = [[-30.01 if x == -30.0 else x, y] for x, y in ring]
    (pack / "districts.geojson").write_text(json.dumps(districts))
    _edit_geojson(pack / "zones.geojson", 0, district="gotham")
    _edit_geojson(pack / "zones.geojson", 2, place_tags=["castle"])
    places = json.loads((pack / "places.geojson").read_text())
    places["features"][0]["geometry"]["coordinates"] = [10.0, 10.0]
    (pack / "places.geojson").write_text(json.dumps(places))
    (pack / "plans").mkdir(exist_ok=True)
    (pack / "plans" / "surge.en.md").write_text("---\nid: surge\nlang: en\ntitle: Surge\ncategories: [flood]\n---\n"
                                                 "## 1. Scope\ntext\n\n## 3. Later\ntext\n")
    with pytest.raises(PackError) as info:
        load_pack(pack)
    problems = [str(p) for p in info.value.problems]
    text = "\n".join(problems)
    assert "city.yaml, sla.default: Value error, every severity needs a time; missing: high" in text
    assert "city.yaml, timezone: Value error, unknown IANA time zone 'Mars/Olympus'" in text
    assert ("city.yaml, agencies: Value error, every agency role needs the city's name for it; "
            "missing: transport") in text
    assert "districts.geojson, district hillside, geometry: districts oldport and hillside overlap" in text
    assert "zones.geojson, feature 0 (Harbour School), properties.district: unknown district 'gotham'" in text
    assert "zones.geojson, feature 2 (Hillside Clinic), properties.place_tags: unknown place tag(s) castle" in text
    assert "places.geojson, feature 0 (Fish Market), geometry: lies in no district" in text
    assert "plans/surge.en.md, section 3: sections must be numbered 1, 2, 3" in text


def test_check_command_exits_nonzero_and_lists_problems(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "gateway.cli.main", "city", "check"]
    good = subprocess.run([*cli, str(HARBOUR), "--json"], capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    summary = json.loads(good.stdout)
    assert summary["ok"] and summary["id"] == "harbour-demo" and summary["districts"] == ["oldport", "hillside"]
    pack = _copy(tmp_path)
    (pack / "zones.geojson").write_text("{not json")
    bad = subprocess.run([*cli, str(pack)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "zones.geojson: not readable JSON" in bad.stderr


def test_holder_keeps_a_good_pack_when_a_reload_fails(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    holder = CityHolder(pack)
    seen: list[str] = []
    holder.listeners.append(lambda p: seen.append(p.sha256))
    before = holder.pack.sha256
    (pack / "districts.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    result = holder.reload()
    assert not result.ok and result.sha256 == before and holder.pack.sha256 == before and not seen
    assert any("at least one district" in p for p in result.problems)
    shutil.copy(HARBOUR / "districts.geojson", pack / "districts.geojson")
    city = yaml.safe_load((pack / "city.yaml").read_text())
    city["sla"]["default"]["critical"] = "5m"
    (pack / "city.yaml").write_text(yaml.safe_dump(city, allow_unicode=True))
    result = holder.reload()
    assert result.ok and holder.pack.sha256 != before and seen == [holder.pack.sha256]
    assert holder.sla("noise", "critical") == timedelta(minutes=5)


def _incident(lat: float, lon: float, district: str, text: str) -> Incident:
    opened = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    return Incident.model_validate({
        "incident_id": "inc-city-1", "opened_at": opened.isoformat(), "district": district,
        "location": {"lat": lat, "lon": lon},
        "observations": [{"source": "citizen", "ts": opened.isoformat(), "text": text}]})


def test_tickets_take_the_packs_sla_and_place_names() -> None:
    demo = CityHolder(DEMO_PACK)
    fire = _incident(22.5568, 114.0552, "futian", "公园旁边的楼着火了，浓烟很大，有人被困")
    plain = RulesBackend().assess(fire).ticket
    named = RulesBackend(city=demo).assess(fire).ticket
    assert plain.category == named.category
    assert "22.55680" in plain.summary and "22.55680" not in named.summary
    assert "莲花山公园" in named.summary and named.location and named.location.address
    assert named.location.address.startswith("福田区 莲花山公园附近")
    expected = demo.sla(named.category.value, named.severity.value)
    assert named.sla_due == fire.opened_at + expected  # type: ignore[operator]
    harbour = CityHolder(HARBOUR)
    flood = _incident(44.995, -30.040, "oldport", "The quay by the fish market is flooded, water knee deep")
    ticket = RulesBackend(city=harbour).assess(flood).ticket
    assert ticket.category.value == "flood"
    assert ticket.sla_due == flood.opened_at + harbour.sla("flood", ticket.severity.value)  # type: ignore[operator]
    assert "Fish Market" in ticket.summary and "Old Port" in ticket.summary
