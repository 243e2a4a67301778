"""``/api/v1/dead-letters``: input the gateway refused, newest first, with the reason."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import (
    API_PREFIX,
    AUTH_RESPONSES,
    Conn,
    OperatorToken,
    require_role,
)
from gateway.api.params import (
    CursorError,
    decode_cursor,
    encode_cursor,
    parse_rfc3339,
    query_error,
)
from gateway.security.auth import Role

router = APIRouter(
    prefix=API_PREFIX + "/dead-letters",
    tags=["dead letters"],
    responses=AUTH_RESPONSES,
    dependencies=[Depends(require_role(Role.OPERATOR))],
)

# Keyset on (received_at, id): ties in received_at are common when a batch is refused.
_QUERY = """
    SELECT id, received_at, topic, reason, payload_size, payload_excerpt, device_id
    FROM dead_letters
    WHERE %(at)s::timestamptz IS NULL
       OR (received_at, id) < (%(at)s::timestamptz, %(id)s::bigint)
    ORDER BY received_at DESC, id DESC
    LIMIT %(limit)s
"""


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 812, "received_at": "2026-11-28T08:15:00.120Z",
                    "topic": "city/futian/sensor/aq-0042/telemetry",
                    "reason": "invalid JSON: Expecting value at line 1 column 1",
                    "payload_size": 11, "payload_excerpt": "not-json!!!",
                    "device_id": "aq-0042",
                }
            ]
        }
    )

    id: int
    received_at: datetime
    topic: str
    reason: str
    payload_size: int = Field(description="Size of the whole payload in bytes")
    payload_excerpt: str = Field(description="The start of the payload, as text")
    device_id: str | None = Field(description="When the topic named a device")


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for older entries; null on the last page",
        examples=[None],
    )


@router.get("", summary="Recent dead letters, newest first")
async def dead_letters(
    token: OperatorToken,
    conn: Conn,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> DeadLetterPage:
    at, last_id = None, None
    if cursor is not None:
        try:
            at_text, last_id = decode_cursor(cursor, (str, int))
            at = parse_rfc3339(at_text)
        except (CursorError, ValueError) as err:
            raise query_error("cursor", "cursor is not one this API issued", cursor) from err
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_QUERY, {"at": at, "id": last_id, "limit": limit})
        items = [DeadLetterOut(**r) for r in await cur.fetchall()]
    next_cursor = None
    if len(items) == limit:
        last = items[-1]
        next_cursor = encode_cursor(last.received_at.isoformat(), last.id)
    return DeadLetterPage(items=items, next_cursor=next_cursor)
