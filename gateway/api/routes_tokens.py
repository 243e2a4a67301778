"""``/api/v1/tokens``: admins create, list and revoke API tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gateway.api.deps import (
    API_PREFIX,
    AUTH_RESPONSES,
    NOT_FOUND,
    AdminToken,
    Conn,
    ErrorOut,
    OperatorToken,
    require_role,
)
from gateway.security.auth import Role, Token, TokenNotFound, create_token, list_tokens, revoke_token

router = APIRouter(
    prefix=API_PREFIX + "/tokens",
    tags=["tokens"],
    responses=AUTH_RESPONSES,
    dependencies=[Depends(require_role(Role.OPERATOR))],
)

MAX_EXPIRY_DAYS = 3650
# Printable text with at least one visible character.
_NAME_PATTERN = r"^[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s][^\x00-\x1f\x7f]*$"
_TOKEN_EXAMPLE: dict[str, JsonValue] = {
    "id": 7, "name": "night shift console", "role": "operator",
    "created_at": "2026-11-28T08:00:00Z", "expires_at": "2026-12-28T08:00:00Z",
    "revoked_at": None, "last_used_at": "2026-11-28T08:15:00Z",
}


class TokenCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "night shift console", "role": "operator",
                          "expires_in_days": 30}]
        },
    )

    name: str = Field(
        min_length=1, max_length=100, pattern=_NAME_PATTERN, examples=["night shift console"]
    )
    role: Role
    expires_in_days: int | None = Field(
        default=None, ge=1, le=MAX_EXPIRY_DAYS, description="Omit for a token that never expires"
    )


class TokenOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_TOKEN_EXAMPLE]})

    id: int
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: Token) -> TokenOut:
        # The stored token's fields are this model's fields: read them off the record.
        return cls.model_validate(token, from_attributes=True)


class TokenCreatedOut(TokenOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_TOKEN_EXAMPLE, "last_used_at": None,
                                          "token": "uo_Vq3...redacted...8xA"}]}
    )

    token: str = Field(description="The bearer secret. It is shown only this once.")


class TokenList(BaseModel):
    items: list[TokenOut]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a token (secret shown once)",
    responses={400: {"model": ErrorOut, "description": "The body is not JSON"}},
)
async def create(admin: AdminToken, body: TokenCreate, conn: Conn) -> TokenCreatedOut:
    now = datetime.now(UTC)
    expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    issued = await create_token(conn, name=body.name, role=body.role, expires_at=expires, now=now)
    return TokenCreatedOut(**TokenOut.of(issued.token).model_dump(), token=issued.secret)


@router.get("", summary="List tokens (never their secrets)")
async def list_all(admin: AdminToken, conn: Conn) -> TokenList:
    return TokenList(items=[TokenOut.of(t) for t in await list_tokens(conn)])


@router.get("/me", summary="The token making this request")
async def me(token: OperatorToken) -> TokenOut:
    """Any valid token may read its own record: the dashboard shows name and role."""
    return TokenOut.of(token)


@router.delete("/{token_id}", summary="Revoke a token", responses=NOT_FOUND)
async def revoke(
    admin: AdminToken, conn: Conn, token_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> TokenOut:
    """Revoke at once; revoking an already revoked token changes nothing."""
    try:
        token = await revoke_token(conn, token_id)
    except TokenNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    return TokenOut.of(token)
