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
