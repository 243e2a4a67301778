"""API test fixtures: an app on a fresh migrated database, and helpers that insert rows
directly with psycopg (the ingest worker is not needed to test the API)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from gateway.api import create_app
from gateway.security.auth import Role, hash_secret, new_secret
from gateway.settings import Settings


@dataclass
class Db:
    url: str

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def token(
        self,
        role: Role | str,
        *,
        name: str = "test",
        expires_at: datetime | None = None,
        revoked: bool = False,
    ) -> tuple[int, str]:
        """Insert a token row; return its id and secret."""
        secret = new_secret()
        rows = self.execute(
            "INSERT INTO api_tokens (name, role, token_hash, expires_at, revoked_at)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (name, str(role), hash_secret(secret), expires_at,
             datetime.now(UTC) if revoked else None),
        )
        return rows[0][0], secret

    def device(
        self,
        device_id: str,
        *,
        district: str = "futian",
        kind: str = "sensor",
        state: str = "online",
        last_seen_ago: timedelta = timedelta(seconds=5),
        battery_pct: float | None = 80.0,
        lat: float | None = None,
        lon: float | None = None,
    ) -> None:
        now = datetime.now(UTC)
        self.execute(
            "INSERT INTO devices (device_id, district, kind, first_seen, last_seen, state,"
            " state_ts, battery_pct, lat, lon, position_ts, messages)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1)",
            (device_id, district, kind, now - timedelta(days=1), now - last_seen_ago, state,
             now - last_seen_ago, battery_pct, lat, lon, now if lat is not None else None),
        )

    def telemetry(self, device_id: str, metric: str, points: list[tuple[datetime, float]]) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO telemetry (ts, device_id, metric, value, msg_id, received_at)"
                " VALUES (%s, %s, %s, %s, %s, now())",
                [(ts, device_id, metric, v, f"m{i}") for i, (ts, v) in enumerate(points)],
            )


def make_settings(**overrides: Any) -> Settings:
    """Settings from arguments only: no .env file of the developer's leaks into tests."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture()
def db(db_url: str) -> Db:
    return Db(db_url)


@pytest.fixture()
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture()
def client(db_url: str, registry: CollectorRegistry) -> Iterator[TestClient]:
    settings = make_settings(database_url=db_url, offline_after_s=120.0)
    with TestClient(create_app(settings, registry=registry)) as c:
        yield c


@pytest.fixture()
def tokens(db: Db) -> dict[str, str]:
    """One secret per role, plus expired, revoked and never-issued ones."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    return {
        "operator": db.token(Role.OPERATOR, name="op")[1],
        "manager": db.token(Role.MANAGER, name="mgr")[1],
        "admin": db.token(Role.ADMIN, name="adm")[1],
        "expired": db.token(Role.ADMIN, name="old", expires_at=past)[1],
        "revoked": db.token(Role.ADMIN, name="gone", revoked=True)[1],
        "wrong": new_secret(),
    }


@dataclass(frozen=True)
class Endpoint:
    """One route in an auth matrix: the least role that may call it and its success status."""

    method: str
    path: str
    least: Role
    ok: int = 200
    json: dict[str, Any] | None = None
