"""Personal data in a citizen's report never reaches a stored row, the audit, the LLM prompt,
the log or an API response: searched for in every one of them, like the frame privacy test."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.triage_svc.config import build_backend
from tests.api.conftest import Db, bearer, make_settings
from tests.api_tickets.conftest import client as client
from tests.api_tickets.conftest import data_dir as data_dir
from tests.api_tickets.conftest import db as db
from tests.api_tickets.conftest import tokens as tokens
from tests.triage_loop.test_learning_loop import triage_inbox
from triage.models import Incident
from triage.prompting import build_messages, load_prompt
from triage.rules import assess_rules

PERSONAL = ["13912345678", "440301199203154321", "粤B7K2M9", "wang.fang@example.cn", "王芳芳"]
REPORT = ("我叫王芳芳，电话13912345678，身份证440301199203154321。楼下粤B7K2M9这辆车天天堵消防通道，"
          "邮箱wang.fang@example.cn，麻烦处理")


def _texts(db: Db) -> list[str]:
    """Every text-like column of every table the report can reach."""
    out: list[str] = []
    for table, column in [("observations", "text"), ("observations", "extra::text"), ("incidents", "body::text"),
                          ("tickets", "body::text"), ("ticket_history", "details::text"),
                          ("triage_audit", "record::text"), ("triage_inbox", "observation_id")]:
        out += [str(r[0]) for r in db.execute(f"SELECT {column} FROM {table}")]
    return out


def test_personal_data_is_nowhere(client: TestClient, tokens: dict[str, str], db: Db, db_url: str,
                                  data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    res = client.post("/open311/v2/requests.json", headers=bearer(tokens["operator"]),
                      json={"service_code": "traffic", "description": REPORT, "lat": 22.54, "long": 114.05})
    assert res.status_code == 201
    triage_inbox(db_url, build_backend(make_settings(database_url=db_url, data_dir=data_dir)))
    tickets = db.execute("SELECT ticket_id FROM tickets")
    assert len(tickets) == 1
    ticket_id = tickets[0][0]
    artefacts = _texts(db)
    assert any("[phone#" in a for a in artefacts)  # the report is there, masked
    responses = [client.get("/open311/v2/requests.json").text,
                 client.get(f"/api/v1/tickets/{ticket_id}", headers=bearer(tokens["manager"])).text,
                 client.get("/api/v1/incidents", headers=bearer(tokens["operator"])).text,
                 client.get(f"/api/v1/tickets/{ticket_id}/cap", headers=bearer(tokens["operator"])).text]
    body = json.loads(db.execute("SELECT body::text FROM incidents")[0][0])
    incident = Incident.model_validate(body)
    prompt = json.dumps(build_messages(load_prompt(), incident, assess_rules(incident), 12, 300), ensure_ascii=False)
    everything = "\n".join([*artefacts, *responses, prompt, caplog.text])
    for value in PERSONAL:
        assert value not in everything, value
