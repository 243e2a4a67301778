"""Versioned SQL migrations (``urbanops db migrate``).

Files are ``NNN_name.sql``; a file may instead come as ``NNN_name.apache.sql`` plus
``NNN_name.timescale.sql`` where the two TimescaleDB editions need different SQL (continuous
aggregates and policies exist only under the Timescale license). Each version runs once, in
its own transaction, recorded in ``schema_migrations``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

log = logging.getLogger(__name__)
FILE_RE = re.compile(r"^(\d{3})_([a-z0-9_]+?)(?:\.(apache|timescale))?\.sql$")
# Any fixed number: serialises concurrent migrators (several gateways starting at once).
LOCK_KEY = 0x75726261


class MigrationError(RuntimeError):
    """A migration failed; the database is left at the previous version."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def edition(conn: psycopg.Connection) -> str:
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    row = conn.execute("SHOW timescaledb.license").fetchone()
    return "timescale" if row and row[0] == "timescale" else "apache"


def load_migrations(license_: str) -> list[Migration]:
    found: dict[int, Migration] = {}
    for entry in sorted(resources.files("gateway.store.migrations").iterdir(), key=lambda p: p.name):
        m = FILE_RE.match(entry.name)
        if not m or (m.group(3) and m.group(3) != license_):
            continue
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"two migrations with version {version}")
        found[version] = Migration(version, m.group(2), entry.read_text())
    return [found[v] for v in sorted(found)]


def migrate(url: str) -> list[int]:
    """Apply pending migrations; return the versions applied."""
    applied: list[int] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            license_ = edition(conn)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for mig in load_migrations(license_):
                if mig.version in done:
                    continue
                try:
                    with conn.transaction():
                        conn.execute(mig.sql.encode())
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum)"
                            " VALUES (%s, %s, %s)",
                            (mig.version, mig.name, mig.checksum),
                        )
                except psycopg.Error as err:
                    raise MigrationError(f"migration {mig.version} {mig.name}: {err}") from err
                log.info("applied migration %03d_%s (%s)", mig.version, mig.name, license_)
                applied.append(mig.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied
