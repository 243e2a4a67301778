"""``urbanops tokens``: create, list and revoke API bearer tokens from the shell.

``create`` prints only the secret on stdout, so ``TOKEN=$(urbanops tokens create ...)``
works; everything else it says goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import psycopg
import typer

from gateway.security.auth import Role, Token, TokenNotFound, create_token, list_tokens, revoke_token
from gateway.settings import Settings

T = TypeVar("T")

app = typer.Typer(help="API bearer tokens (stored as SHA-256 hashes).", no_args_is_help=True)


def _run(work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
    """Run ``work`` on one autocommit connection to the configured database."""

    async def main() -> T:
        url = Settings().database_url
        try:
            conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        except psycopg.OperationalError as err:
            typer.echo(f"error: cannot reach the database: {err}".rstrip(), err=True)
            raise typer.Exit(2) from err
        async with conn:
            return await work(conn)

    return asyncio.run(main())


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else "-"


def _status(token: Token, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


@app.command()
def create(
    role: Annotated[Role, typer.Option(help="operator, manager or admin")],
    name: Annotated[str, typer.Option(help="Who or what uses the token")],
    expires_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Expire after N days (default: never)")
    ] = None,
) -> None:
    """Create a token and print its secret (shown only this once)."""
    if not name.strip():
        raise typer.BadParameter("must not be blank", param_hint="--name")
    now = datetime.now(UTC)
    expires = now + timedelta(days=expires_days) if expires_days else None
    issued = _run(lambda conn: create_token(conn, name=name, role=role, expires_at=expires))
    typer.echo(
        f"created token {issued.token.id} ({issued.token.role.value}, {issued.token.name!r},"
        f" expires {_when(issued.token.expires_at)})",
        err=True,
    )
    typer.echo(issued.secret)


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """List tokens (never their secrets)."""
    tokens = _run(list_tokens)
    now = datetime.now(UTC)
    if as_json:
        for t in tokens:
            typer.echo(json.dumps({
                "id": t.id, "name": t.name, "role": t.role.value, "status": _status(t, now),
                "created_at": _when(t.created_at), "expires_at": _when(t.expires_at),
                "revoked_at": _when(t.revoked_at), "last_used_at": _when(t.last_used_at),
            }))
        return
    header = f"{'ID':>5}  {'ROLE':<8}  {'STATUS':<7}  {'CREATED':<25}  {'EXPIRES':<25}  NAME"
    typer.echo(header)
    for t in tokens:
        typer.echo(
            f"{t.id:>5}  {t.role.value:<8}  {_status(t, now):<7}  {_when(t.created_at):<25}"
            f"  {_when(t.expires_at):<25}  {t.name}"
        )


@app.command()
def revoke(token_id: Annotated[int, typer.Argument(min=1, help="The token's id")]) -> None:
    """Revoke a token at once."""
    try:
        token = _run(lambda conn: revoke_token(conn, token_id))
    except TokenNotFound as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(f"revoked token {token.id} ({token.name!r}) at {_when(token.revoked_at)}")
