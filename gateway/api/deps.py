"""Request dependencies: the app's state, a pooled DB connection, and role checks.

Routers declare what they need with ``Annotated`` aliases::

    router = APIRouter(dependencies=[Depends(require_role(Role.OPERATOR))])

    @router.get("/things")
    async def things(token: OperatorToken, conn: Conn) -> ...

``require_role(Role.MANAGER)`` builds the same check for any role; a role also passes
every check for the roles below it (operator < manager < admin).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from gateway.city import CityHolder
from gateway.security.auth import Role, Token, TokenError, verify_token
from gateway.settings import Settings

API_PREFIX = "/api/v1"
# How long a request waits for a pooled connection before answering 503.
POOL_WAIT_S = 5.0


@dataclass
class ApiState:
    """Everything the routes share, kept on ``app.state.api`` (no module globals)."""

    settings: Settings
    registry: CollectorRegistry
    health: Callable[[], dict[str, str]] | None
    city: CityHolder
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = field(default=None)
    read_pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = field(default=None)


class ErrorOut(BaseModel):
    detail: str = Field(examples=["bearer token 7 expired at 2026-11-28T08:15:00+00:00"])


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


# For ``responses=`` on routers and routes, so OpenAPI lists the errors they can return.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _error("No bearer token, or one that is unknown, expired or revoked"),
    403: _error("The token's role may not do this"),
    503: _error("The database is unreachable"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No such resource")}


def get_state(request: Request) -> ApiState:
    state = request.app.state.api
    assert isinstance(state, ApiState)
    return state


State = Annotated[ApiState, Depends(get_state)]


def get_city(state: State) -> CityHolder:
    return state.city


City = Annotated[CityHolder, Depends(get_city)]


def get_settings(state: State) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_pool(state: State) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    if state.pool is None:  # only outside the lifespan, e.g. a TestClient not entered
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database pool is not open")
    return state.pool


Pool = Annotated[AsyncConnectionPool[psycopg.AsyncConnection[Any]], Depends(get_pool)]


async def get_conn(pool: Pool) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """One autocommit connection per request, shared by the auth check and the route."""
    async with pool.connection(timeout=POOL_WAIT_S) as conn:
        yield conn


Conn = Annotated[psycopg.AsyncConnection[Any], Depends(get_conn)]


async def get_read_conn(state: State, conn: Conn) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection for reads that may lag behind the primary by the standby's replay delay
    (telemetry history). Without ``URBANOPS_DATABASE_READ_URL`` it is the request's own."""
    if state.read_pool is None:
        yield conn
        return
    async with state.read_pool.connection(timeout=POOL_WAIT_S) as read:
        yield read


ReadConn = Annotated[psycopg.AsyncConnection[Any], Depends(get_read_conn)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token from `urbanops tokens create` or `POST /api/v1/tokens`.",
)


def _unauthorized(message: str, error: str | None) -> HTTPException:
    # RFC 6750 section 3: say which scheme to use, and why a presented token was refused.
    challenge = 'Bearer realm="urbanops"'
    if error:
        quoted = message.replace("\\", "").replace('"', "'")
        challenge += f', error="{error}", error_description="{quoted}"'
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": challenge}
    )


async def bearer_secret(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The presented secret; refuses before any DB work when there is none."""
    if creds is None or not creds.credentials.strip():
        raise _unauthorized(
            "missing bearer token: send 'Authorization: Bearer <token>'", error=None
        )
    return creds.credentials.strip()


@functools.cache  # one callable per role, so FastAPI runs the check once per request
def require_role(role: Role) -> Callable[..., Awaitable[Token]]:
    """A dependency that yields the caller's ``Token`` if its role is at least ``role``.

    Put it in the router's ``dependencies=`` too: those are solved before a route's own
    parameters, so a request without a token is refused before it takes a DB connection.
    """

    async def check(secret: Annotated[str, Depends(bearer_secret)], conn: Conn) -> Token:
        try:
            token = await verify_token(conn, secret)
        except TokenError as err:
            raise _unauthorized(str(err), error="invalid_token") from err
        if not token.role.allows(role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this needs role {role.value} or higher;"
                f" token {token.id} ({token.name!r}) has role {token.role.value}",
            )
        return token

    check.__name__ = f"require_{role.value}"
    return check


OperatorToken = Annotated[Token, Depends(require_role(Role.OPERATOR))]
ManagerToken = Annotated[Token, Depends(require_role(Role.MANAGER))]
AdminToken = Annotated[Token, Depends(require_role(Role.ADMIN))]
