"""FIWARE exports: ``GET /api/v1/tickets/{id}/alert`` (Smart Data Models ``Alert``) checked
against what ``pysmartdatamodels`` ships for ``Alert`` (offline: its bundled attribute
database and metadata), and the NGSI-LD read view ``GET /ngsi-ld/v1/entities``."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

import pysmartdatamodels as sdm
import pytest
from fastapi.testclient import TestClient

from gateway.api.routes_ngsi import ALERT_CONTEXT, CORE_CONTEXT
from tests.api.conftest import bearer
from tests.api.conftest import db as db
from tests.api.conftest import tokens as tokens
from tests.api_tickets.conftest import Seed
from tests.api_tickets.conftest import client as client
from tests.api_tickets.conftest import data_dir as data_dir
from tests.api_tickets.conftest import seed as seed

SUBJECT, MODEL = "dataModel.Alert", "Alert"
E = "/ngsi-ld/v1/entities"
# Each pysmartdatamodels lookup scans its whole attribute database (160k entries): ask once.
_attributes = cache(sdm.attributes_datamodel)
_datatype = cache(sdm.datatype_attribute)
_ngsi_type = cache(sdm.ngsi_datatype_attribute)


@cache
def _entries() -> list[dict[str, Any]]:
    return [a for a in sdm.load_all_attributes() if a.get("repoName") == SUBJECT and a.get("dataModel") == MODEL]


def _enum(prop: str) -> set[str]:
    """The allowed values: the attribute's ``enum``, or the ``Enum:'a, b'`` list its description
    carries where the database has no enum field (``subCategory``)."""
    # top-level attributes only (the GeoJSON geometries' own ``type`` entries carry no NGSI type)
    (entry,) = [a for a in _entries() if a["property"] == prop and "parentId" not in a and "typeNGSI" in a]
    if entry.get("enum"):
        return set(entry["enum"])
    found = re.search(r"Enum:'([^']*)'?", entry["description"])
    assert found, entry["description"]
    return {v.strip() for v in found.group(1).split(",")}


def _validate(alert: dict[str, Any]) -> None:
    attributes = set(_attributes(SUBJECT, MODEL))
    assert set(alert) <= attributes, set(alert) - attributes
    assert MODEL in sdm.datamodels_subject(SUBJECT)
    required = sdm.list_datamodel_metadata(MODEL, SUBJECT)["required"]
    assert set(required) <= set(alert), set(required) - set(alert)
    assert alert["type"] in _enum("type")
    assert alert["category"] in _enum("category")
    assert alert["severity"] in _enum("severity")
    if "subCategory" in alert:
        assert alert["subCategory"] in _enum("subCategory")
    for prop in alert:
        if _datatype(SUBJECT, MODEL, prop) == "string" and prop != "type":
            assert isinstance(alert[prop], str), prop
    for entry in _entries():
        if entry.get("format") == "date-time" and entry["property"] in alert:
            datetime.fromisoformat(alert[entry["property"]])
    address_parts = {a["property"] for a in _entries() if a.get("parentId", "").endswith("/address#0.0.3")}
    assert set(alert.get("address", {})) <= address_parts
    loc = alert["location"]
    assert loc["type"] == "Point" and len(loc["coordinates"]) == 2  # GeoJSON: [lon, lat]


def test_ticket_alert_validates_against_pysmartdatamodels(client: TestClient, seed: Seed,
                                                          tokens: dict[str, str]) -> None:
    ticket_id = seed.incident("inc-0001", category="fire")
    res = client.get(f"/api/v1/tickets/{ticket_id}/alert", headers=bearer(tokens["operator"]))
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("application/json") and ALERT_CONTEXT in res.headers["link"]
    alert = res.json()
    _validate(alert)
    assert alert["id"] == f"urn:ngsi-ld:Alert:{ticket_id}" and alert["alertSource"] == "urn:ngsi-ld:Incident:inc-0001"
    assert (alert["category"], alert["severity"]) == ("security", "high")
    assert alert["location"]["coordinates"] == [114.056, 22.5375]
    assert alert["seeAlso"][0].endswith(f"/api/v1/tickets/{ticket_id}/cap")
    # Resolving ends its validity then.
    client.post(f"/api/v1/tickets/{ticket_id}/resolve", headers=bearer(tokens["manager"]))
    resolved = client.get(f"/api/v1/tickets/{ticket_id}/alert", headers=bearer(tokens["operator"])).json()
    _validate(resolved)
    assert resolved["validTo"] <= resolved["dateModified"]


@pytest.mark.parametrize("category", ["flood", "road_hazard", "sanitation", "air_quality", "public_safety",
                                      "infrastructure", "noise", "traffic", "device_fault"])
def test_every_category_maps_to_sdm_enums(client: TestClient, seed: Seed, tokens: dict[str, str],
                                          category: str) -> None:
    ticket_id = seed.incident(f"inc-{category}", category=category)
    _validate(client.get(f"/api/v1/tickets/{ticket_id}/alert", headers=bearer(tokens["operator"])).json())


def test_alert_errors(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/api/v1/tickets/tkt-x/alert").status_code == 401
    assert client.get("/api/v1/tickets/tkt-x/alert", headers=bearer(tokens["operator"])).status_code == 404
    assert client.get(E, params={"type": "Alert"}).status_code == 401


def test_ngsi_ld_entities(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    op = bearer(tokens["operator"])
    ids = [seed.incident(f"inc-{n}", category="flood") for n in range(5)]
    res = client.get(E, params={"type": "Alert"}, headers=op)
    assert res.status_code == 200, res.text
    # application/json: no @context in the body, the context in the JSON-LD Link header
    assert res.headers["content-type"].startswith("application/json")
    assert res.headers["link"] == (f'<{ALERT_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context";'
                                   ' type="application/ld+json"')
    entities = res.json()
    assert sorted(e["id"] for e in entities) == sorted(f"urn:ngsi-ld:Alert:{t}" for t in ids)
    for entity in entities:
        assert "@context" not in entity and entity["type"] == "Alert"
        for prop, attr in entity.items():
            if prop in ("id", "type"):
                continue
            # Normalized: each attribute typed as the data model says (Property / GeoProperty / Relationship)
            assert attr["type"] == _ngsi_type(SUBJECT, MODEL, prop), prop
            assert ("object" if attr["type"] == "Relationship" else "value") in attr
        assert entity["dateIssued"]["value"]["@type"] == "DateTime"
    # application/ld+json: the @context in each entity, no Link header
    ld = client.get(E, params={"type": "Alert", "options": "keyValues"},
                    headers={**op, "Accept": "application/ld+json"})
    assert ld.headers["content-type"].startswith("application/ld+json") and "link" not in ld.headers
    for entity in ld.json():
        assert entity["@context"] == [ALERT_CONTEXT, CORE_CONTEXT]
        _validate({k: v for k, v in entity.items() if k != "@context"})
    # paging: limit/offset walk every entity once; count=true gives the total
    seen: list[str] = []
    for offset in range(0, 6, 2):
        page = client.get(E, params={"type": "Alert", "limit": 2, "offset": offset, "count": "true"}, headers=op)
        assert page.headers["ngsild-results-count"] == "5"
        seen += [e["id"] for e in page.json()]
    assert sorted(seen) == sorted(e["id"] for e in entities) and len(seen) == 5
    # id filter (comma-separated), alone or with type
    wanted = f"urn:ngsi-ld:Alert:{ids[1]},urn:ngsi-ld:Alert:{ids[3]},urn:ngsi-ld:Alert:nope"
    for params in ({"id": wanted}, {"id": wanted, "type": "Alert"}):
        got = client.get(E, params=params, headers=op).json()
        assert sorted(e["id"] for e in got) == sorted(wanted.split(",")[:2])
    # another type: nothing of it here
    assert client.get(E, params={"type": "Vehicle"}, headers=op).json() == []


def test_ngsi_ld_errors(client: TestClient, tokens: dict[str, str]) -> None:
    op = bearer(tokens["operator"])
    for params in ({}, {"type": "Alert", "limit": "x"}, {"type": "Alert", "limit": "5000"},
                   {"type": "Alert", "offset": "-1"}, {"type": "Alert", "count": "maybe"},
                   {"type": "Alert", "limit": "²"}, {"id": "urn:ngsi-ld:Alert:a\x00b"}):
        res = client.get(E, params=params, headers=op)
        assert res.status_code == 400, params
        assert res.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    res = client.get(E, params={"type": "Alert"}, headers={**op, "Accept": "text/html"})
    assert res.status_code == 406 and res.json()["type"].endswith("/NotAcceptable")
    # */* and q-values: the preferred acceptable type wins
    prefer_ld = {**op, "Accept": "application/json;q=0.5, application/ld+json"}
    res = client.get(E, params={"type": "Alert"}, headers=prefer_ld)
    assert res.headers["content-type"].startswith("application/ld+json")
