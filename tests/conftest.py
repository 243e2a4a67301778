"""Shared fixtures: a private Mosquitto and PostgreSQL+TimescaleDB for the whole run,
and a freshly migrated database per test (cloned from a migrated template, so it is fast)."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gateway.local_services import Mosquitto, Postgres
from gateway.store.migrate import migrate

_counter = itertools.count()
TEMPLATE = "urbanops_template"


@pytest.fixture(scope="session")
def services_root() -> Iterator[Path]:
    base = Path(os.environ.get("URBANOPS_TEST_TMP", tempfile.gettempdir()))
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="urbanops-test-", dir=base) as tmp:
        os.chmod(tmp, 0o755)  # the postgres account must reach its data dir below
        yield Path(tmp)


@pytest.fixture(scope="session")
def broker(services_root: Path) -> Iterator[Mosquitto]:
    mq = Mosquitto(services_root / "mosquitto").start()
    yield mq
    mq.stop()


@pytest.fixture(scope="session")
def postgres(services_root: Path) -> Iterator[Postgres]:
    pg = Postgres(services_root / "postgres").start()
    admin = f"postgresql://{pg.user}@127.0.0.1:{pg.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    migrate(f"postgresql://{pg.user}@127.0.0.1:{pg.port}/{TEMPLATE}")
    with psycopg.connect(admin, autocommit=True) as conn:
        # TimescaleDB's scheduler keeps a session in every database with the extension; a
        # template must have none, so close it to connections before cloning.
        conn.execute(f'ALTER DATABASE "{TEMPLATE}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                     (TEMPLATE,))
    yield pg
    pg.destroy()


@pytest.fixture()
def db_url(postgres: Postgres) -> Iterator[str]:
    """A migrated database of this test's own."""
    name = f"t{os.getpid()}_{next(_counter)}"
    admin = f"postgresql://{postgres.user}@127.0.0.1:{postgres.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    yield f"postgresql://{postgres.user}@127.0.0.1:{postgres.port}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# A test that needs Mosquitto, PostgreSQL or a browser is marked ``services``, one that runs the
# real LLM ``model``; both are left out of ``make check`` (``-m "not services and not model and
# not slow"``). Using one of the fixtures below sets the mark; a test that starts a service
# itself carries ``@pytest.mark.services``, and an unmarked test that tries is failed by
# ``_services_need_the_mark`` (so the fast set stays service-free).
SERVICE_FIXTURES = frozenset({"broker", "postgres", "secure_broker"})
SERVICE_DIRS = ("browser",)  # every browser test drives Chromium against a live server
MODEL_FIXTURES = frozenset({"smollm2"})  # the real SmolLM2 GGUF: a minute of CPU, not a unit test


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_root = Path(__file__).parent
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        top = item.path.relative_to(tests_root).parts[0] if item.path.is_relative_to(tests_root) else ""
        if fixtures & SERVICE_FIXTURES or top in SERVICE_DIRS:
            item.add_marker(pytest.mark.services)
        if fixtures & MODEL_FIXTURES:
            item.add_marker(pytest.mark.model)


@pytest.fixture(autouse=True)
def _services_need_the_mark(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("services") is not None:
        return

    def refuse(self: object) -> None:
        raise RuntimeError(f"{request.node.nodeid} starts {type(self).__name__}: mark it @pytest.mark.services")

    monkeypatch.setattr(Mosquitto, "start", refuse)
    monkeypatch.setattr(Postgres, "start", refuse)
