"""Learning from the city: a systematic routing the city disagrees with, corrected by 30 manager
overrides through the API, retrained with ``--from-db``, promoted only because the frozen holdout
is not worse, and then right on new reports it has never seen — without touching other noise."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gateway.triage_svc.config import build_backend
from gateway.triage_svc.labels import labelled_from_db
from gateway.triage_svc.live_model import LiveModelBackend
from gateway.triage_svc.model_registry import ModelRegistry
from gateway.triage_svc.promotion import judge
from gateway.triage_svc.service import TriageService
from tests.api.conftest import Db, bearer, make_settings
from tests.api_tickets.conftest import client as client
from tests.api_tickets.conftest import data_dir as data_dir
from tests.api_tickets.conftest import db as db
from tests.api_tickets.conftest import tokens as tokens
from tests.triage_loop.reports import CORRECTED, NEW, UNCHANGED
from triage.learned.corpus import train_files
from triage.learned.train import load_records, train
from triage.models import Agency, Category, Incident, Ticket

R = "/open311/v2/requests.json"


def post_reports(client: TestClient, secret: str, texts: list[str], row: int) -> None:
    for i, text in enumerate(texts):  # ~1.1 km apart: each report is its own incident
        res = client.post(R, headers=bearer(secret), json={
            "service_code": "noise", "description": text, "lat": 22.50 + 0.01 * row, "long": 113.90 + 0.01 * i})
        assert res.status_code == 201, res.text


def triage_inbox(db_url: str, backend: object) -> None:
    service = TriageService(db_url, backend)  # type: ignore[arg-type]
    while service.process_once() > 0:
        pass
    service.stop()


def assess_texts(backend: LiveModelBackend, texts: list[str]) -> list[Ticket]:
    return [backend.assess(Incident.model_validate({
        "incident_id": f"new-{i}", "observations": [{"source": "citizen", "text": t}]})).ticket
        for i, t in enumerate(texts)]


def tickets(db: Db, texts: list[str]) -> dict[str, tuple[str, str]]:
    rows = db.execute(
        "SELECT o.text, t.ticket_id, t.agency FROM observations o JOIN tickets t USING (incident_id)"
        " WHERE o.source = 'citizen'")
    by_text = {text: (ticket_id, agency) for text, ticket_id, agency in rows}
    return {t: by_text[t] for t in texts}


def test_thirty_overrides_retrain_promote_and_fix_new_reports(
        client: TestClient, tokens: dict[str, str], db: Db, db_url: str, data_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(database_url=db_url, data_dir=data_dir)
    live = build_backend(settings)
    assert isinstance(live, LiveModelBackend)
    shipped = ModelRegistry(data_dir).active_path()

    post_reports(client, tokens["operator"], CORRECTED, 0)
    triage_inbox(db_url, live)
    before = tickets(db, CORRECTED)
    wrong = [tid for tid, agency in before.values() if agency != Agency.URBAN_MANAGEMENT]
    assert len(wrong) >= 25, "the shipped model routes night construction noise by the default policy"

    for tid in wrong:
        res = client.post(f"/api/v1/tickets/{tid}/override", headers=bearer(tokens["manager"]),
                          json={"agency": "urban_management", "reason": "夜间施工噪音由城管执法处理"})
        assert res.status_code == 200, res.text

    city = labelled_from_db(db_url)
    assert sum(r["meta"]["kind"] == "override" for r in city) == len(wrong)
    candidate = tmp_path / "candidate.npz"
    train(load_records(train_files()) + city, candidate, folds=3, version="loop-test", progress=lambda _: None)

    verdict = judge(candidate, shipped, city=city)
    print(verdict.evidence())
    assert verdict.ok, verdict.reasons
    assert verdict.city_relabelled.get("agency", 0) >= 1, "the holdout's night construction goes the city's way"
    assert set(verdict.city_relabelled) == {"agency"}, verdict.city_relabelled
    ModelRegistry(data_dir).promote(candidate, "loop-test", actor="test", evidence=verdict.evidence())
    assert live.refresh()

    fixed = assess_texts(live, NEW)
    assert all(t.category is Category.NOISE for t in fixed)
    assert sum(t.agency is Agency.URBAN_MANAGEMENT for t in fixed) >= 8, [t.agency for t in fixed]
    untouched = assess_texts(live, UNCHANGED)
    assert sum(t.agency is Agency.ECOLOGY_ENVIRONMENT for t in untouched) >= 4, [t.agency for t in untouched]

    ModelRegistry(data_dir).rollback(actor="test")
    assert live.refresh()
    back = assess_texts(live, NEW)
    assert sum(t.agency is Agency.URBAN_MANAGEMENT for t in back) <= 2, "rollback restores the previous routing"


def test_a_shadow_model_is_audited_and_never_acted_on(
        client: TestClient, tokens: dict[str, str], db: Db, db_url: str, data_dir: Path) -> None:
    from gateway.triage_svc.labels import shadow_agreement
    from triage.backend import RulesBackend

    post_reports(client, tokens["operator"], CORRECTED[:3], 5)
    service = TriageService(db_url, RulesBackend(), shadow=build_backend(make_settings(
        database_url=db_url, data_dir=data_dir)))
    while service.process_once() > 0:
        pass
    service.stop()
    rows = db.execute("SELECT backend, count(*) FROM triage_audit GROUP BY backend ORDER BY backend")
    assert dict(rows) == {"rules": 3, "shadow": 3}
    assert {r[0] for r in db.execute("SELECT body -> 'triage' ->> 'backend' FROM tickets")} == {"rules"}
    tid = db.execute("SELECT ticket_id FROM tickets ORDER BY ticket_id LIMIT 1")[0][0]
    client.post(f"/api/v1/tickets/{tid}/override", headers=bearer(tokens["manager"]),
                json={"agency": "urban_management", "reason": "城管负责"})
    agreement = shadow_agreement(db_url)
    assert agreement["shadow"]["n"] == agreement["live"]["n"] == 1
