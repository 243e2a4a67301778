"""Token administration over the API and with ``urbanops tokens``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gateway.cli.tokens import app as tokens_cli
from tests.api.conftest import Db, bearer


def test_create_list_revoke(client: TestClient, db: Db, tokens: dict[str, str]) -> None:
    admin = bearer(tokens["admin"])
    res = client.post("/api/v1/tokens", headers=admin,
                      json={"name": "console", "role": "manager", "expires_in_days": 30})
    assert res.status_code == 201, res.text
    created = res.json()
    secret = created["token"]
    assert created["role"] == "manager" and created["revoked_at"] is None
    expires = datetime.fromisoformat(created["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)

    me = client.get("/api/v1/tokens/me", headers=bearer(secret))
    assert me.status_code == 200 and me.json()["id"] == created["id"]
    assert me.json()["name"] == "console" and "token" not in me.json()

    listed = client.get("/api/v1/tokens", headers=admin).json()["items"]
    assert created["id"] in [t["id"] for t in listed]
    assert all("token" not in t and "token_hash" not in t for t in listed)
    assert secret not in str(db.execute("SELECT * FROM api_tokens"))

    res = client.delete(f"/api/v1/tokens/{created['id']}", headers=admin)
    assert res.status_code == 200 and res.json()["revoked_at"] is not None
    first_revoked_at = res.json()["revoked_at"]
    res = client.get("/api/v1/tokens/me", headers=bearer(secret))
    assert res.status_code == 401 and "revoked" in res.json()["detail"]
    again = client.delete(f"/api/v1/tokens/{created['id']}", headers=admin)
    assert again.status_code == 200 and again.json()["revoked_at"] == first_revoked_at

    assert client.delete("/api/v1/tokens/999999", headers=admin).status_code == 404
    assert client.delete("/api/v1/tokens/0", headers=admin).status_code == 422
    never = client.post("/api/v1/tokens", headers=admin, json={"name": "x", "role": "admin"})
    assert never.status_code == 201 and never.json()["expires_at"] is None


@pytest.mark.parametrize("body", [
    {"name": "x", "role": "root"},
    {"name": "", "role": "operator"},
    {"name": "   ", "role": "operator"},
    {"name": "a\x00b", "role": "operator"},
    {"name": "x" * 101, "role": "operator"},
    {"name": "x", "role": "operator", "expires_in_days": 0},
    {"name": "x", "role": "operator", "expires_in_days": 3651},
    {"name": "x", "role": "operator", "extra": 1},
    {"role": "operator"},
    {"name": "a\ud800b", "role": "operator"},  # cannot be stored, nor echoed as UTF-8
])
def test_create_rejects(
    client: TestClient, tokens: dict[str, str], body: dict[str, object]
) -> None:
    # ASCII JSON, so that a lone surrogate travels as the escape \ud800
    res = client.post("/api/v1/tokens", content=json.dumps(body).encode(),
                      headers={**bearer(tokens["admin"]), "Content-Type": "application/json"})
    assert res.status_code == 422, res.text


def test_cli(db_url: str, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANOPS_DATABASE_URL", db_url)
    runner = CliRunner()
    res = runner.invoke(tokens_cli, ["create", "--role", "admin", "--name", "ops lead",
                                     "--expires-days", "7"])
    assert res.exit_code == 0, res.output
    secret = res.stdout.strip()
    assert secret.startswith("uo_") and "\n" not in secret  # only the token on stdout
    me = client.get("/api/v1/tokens/me", headers=bearer(secret)).json()
    assert me["role"] == "admin" and me["name"] == "ops lead"

    res = runner.invoke(tokens_cli, ["list"])
    assert res.exit_code == 0 and "ops lead" in res.stdout and "active" in res.stdout
    assert secret not in res.stdout

    res = runner.invoke(tokens_cli, ["revoke", str(me["id"])])
    assert res.exit_code == 0, res.output
    assert client.get("/api/v1/tokens/me", headers=bearer(secret)).status_code == 401
    res = runner.invoke(tokens_cli, ["list", "--json"])
    assert '"status": "revoked"' in res.stdout

    assert runner.invoke(tokens_cli, ["revoke", "424242"]).exit_code == 1
    assert runner.invoke(tokens_cli, ["create", "--role", "root", "--name", "x"]).exit_code == 2
