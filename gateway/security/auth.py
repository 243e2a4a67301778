"""API bearer tokens: create, verify, list, revoke.

Only a SHA-256 of each secret is stored. The secrets carry 256 random bits, so an unsalted
fast hash is enough (nobody can brute-force that space) and lets us find a token by an index
lookup on its hash instead of comparing against every row.

The functions take an open ``psycopg.AsyncConnection`` (the API passes a pooled one, the
CLI its own) and leave transaction handling to the caller; each is a single statement or a
read followed by an idempotent update, so autocommit connections are fine.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.rows import dict_row

TOKEN_PREFIX = "uo_"
# Recording every use would turn each read request into a write; once a minute is enough
# to answer "is this token still used?".
LAST_USED_RESOLUTION = timedelta(seconds=60)
_COLUMNS = "id, name, role, created_at, expires_at, revoked_at, last_used_at"


class Role(StrEnum):
    """Ordered: each role may do everything the roles before it may."""

    OPERATOR = "operator"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


class TokenError(Exception):
    """Base for the reasons a token is refused; ``str(err)`` is safe to show the caller."""


class InvalidToken(TokenError):
    pass


class ExpiredToken(TokenError):
    pass


class RevokedToken(TokenError):
    pass


class TokenNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Token:
    """A stored token, never its secret."""

    id: int
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Token:
        return cls(
            id=row["id"], name=row["name"], role=Role(row["role"]),
            created_at=row["created_at"], expires_at=row["expires_at"],
            revoked_at=row["revoked_at"], last_used_at=row["last_used_at"],
        )

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What ``create_token`` returns: the record and the secret, which is shown only once."""

    token: Token
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


async def create_token(
    conn: psycopg.AsyncConnection[Any],
    *,
    name: str,
    role: Role,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """Store a new token and return it with its secret."""
    created = _now(now)
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= created):
        raise ValueError("expires_at must be timezone-aware and in the future")
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name")
    secret = new_secret()
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO api_tokens (name, role, token_hash, created_at, expires_at)"
            f" VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (name, role.value, hash_secret(secret), created, expires_at),
        )
        row = await cur.fetchone()
    assert row is not None  # INSERT ... RETURNING always yields the row
    return IssuedToken(Token.from_row(row), secret)


async def verify_token(
    conn: psycopg.AsyncConnection[Any], secret: str, *, now: datetime | None = None
) -> Token:
    """Return the token for ``secret`` or raise a ``TokenError`` saying why it is refused."""
    at = _now(now)
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise InvalidToken("unknown bearer token")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = %s", (hash_secret(secret),)
        )
        row = await cur.fetchone()
    if row is None:
        raise InvalidToken("unknown bearer token")
    token = Token.from_row(row)
    if token.revoked_at is not None:
        raise RevokedToken(f"bearer token {token.id} was revoked")
    if token.expires_at is not None and token.expires_at <= at:
        raise ExpiredToken(f"bearer token {token.id} expired at {token.expires_at.isoformat()}")
    if token.last_used_at is None or at - token.last_used_at >= LAST_USED_RESOLUTION:
        await conn.execute(
            "UPDATE api_tokens SET last_used_at = %s WHERE id = %s", (at, token.id)
        )
    return token


async def list_tokens(conn: psycopg.AsyncConnection[Any]) -> list[Token]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY id")
        return [Token.from_row(r) for r in await cur.fetchall()]


async def get_token(conn: psycopg.AsyncConnection[Any], token_id: int) -> Token:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE id = %s", (token_id,))
        row = await cur.fetchone()
    if row is None:
        raise TokenNotFound(f"no token with id {token_id}")
    return Token.from_row(row)


async def revoke_token(
    conn: psycopg.AsyncConnection[Any], token_id: int, *, now: datetime | None = None
) -> Token:
    """Revoke a token; revoking it again keeps the first revocation time."""
    at = _now(now)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, %s) WHERE id = %s"
            f" RETURNING {_COLUMNS}",
            (at, token_id),
        )
        row = await cur.fetchone()
    if row is None:
        raise TokenNotFound(f"no token with id {token_id}")
    return Token.from_row(row)
