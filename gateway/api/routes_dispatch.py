"""Dispatch and agency webhooks over HTTP.

- ``POST /api/v1/tickets/{id}/dispatch`` (manager): the one-click approval; the dispatch loop
  sends the nearest idle robot within a tick. ``GET /api/v1/tickets/{id}/tasks`` (operator).
- ``/api/v1/webhooks`` (admin): subscriptions, the delivery log, and retrying a failed delivery.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import AnyHttpUrl, BaseModel, Field, model_validator

from gateway.api.deps import API_PREFIX, AUTH_RESPONSES, NOT_FOUND, AdminToken, Conn, ManagerToken, require_role
from gateway.dispatch.config import ROBOT_CATEGORIES, DispatchConfig
from gateway.security.auth import Role
from triage.models import Agency

router = APIRouter(prefix=API_PREFIX, tags=["dispatch"], responses=AUTH_RESPONSES,
                   dependencies=[Depends(require_role(Role.OPERATOR))])
TicketId = Annotated[str, Path(min_length=1, max_length=140, pattern=r"^[^\x00/]+$")]
WebhookEvent = Literal["created", "escalated", "reminder", "resolved"]
TASK_COLUMNS = ("task_id, ticket_id, device_id, kind, action, lat, lon, status, deadline, attempts, progress_pct,"
                " approved_by, approved_at, created_at, updated_at, sent_at, acked_at, started_at, finished_at,"
                " detail")


class TaskOut(BaseModel):
    task_id: str
    ticket_id: str
    device_id: str | None
    kind: str
    action: str
    lat: float
    lon: float
    status: str
    deadline: datetime
    attempts: int
    progress_pct: float | None
    approved_by: str | None
    approved_at: datetime | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    acked_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    detail: str | None


class SubscriptionIn(BaseModel):
    agency: Agency
    url: AnyHttpUrl
    secret: str = Field(min_length=16, max_length=200, pattern=r"^[^\x00]*$",  # PostgreSQL text holds no NUL
                        description="HMAC-SHA256 key for X-Urbanops-Signature")
    events: list[WebhookEvent] = Field(default=["created", "escalated", "resolved"], min_length=1)


class SubscriptionOut(BaseModel):
    id: int
    agency: str
    url: str = Field(description="the endpoint; a group robot's key or token (the query string) is not shown")
    events: list[str]
    active: bool
    created_at: datetime
    kind: str = Field("webhook", description="webhook, wecom, dingtalk or email")
    origin: str = Field("api", description="api (created here) or pack (an agency channel of the city pack)")

    @model_validator(mode="after")
    def _no_key(self) -> SubscriptionOut:
        if self.kind in ("wecom", "dingtalk"):  # the key or access token in the query is the secret
            self.url = self.url.split("?", 1)[0]
        return self


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    ticket_id: str
    event: str
    attempts: int
    status: str
    last_status: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    step: int = Field(0, description="the escalation ladder's step, for reminders")


async def _tasks(conn: Conn, ticket_id: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE ticket_id = %s"  # type: ignore[arg-type]
                          " ORDER BY created_at", (ticket_id,))
        return await cur.fetchall()


@router.get("/tickets/{ticket_id}/tasks", summary="The ticket's dispatch tasks, oldest first", responses=NOT_FOUND)
async def ticket_tasks(ticket_id: TicketId, conn: Conn) -> list[TaskOut]:
    return [TaskOut(**r) for r in await _tasks(conn, ticket_id)]


@router.post("/tickets/{ticket_id}/dispatch", status_code=status.HTTP_202_ACCEPTED, responses=NOT_FOUND,
             summary="Approve dispatch: the nearest idle robot is sent within a moment")
async def approve_dispatch(ticket_id: TicketId, token: ManagerToken, conn: Conn) -> TaskOut:
    now = datetime.now(UTC)
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT t.status, t.category, i.lat, i.lon FROM tickets t JOIN incidents i"
                          " USING (incident_id) WHERE t.ticket_id = %s FOR UPDATE OF t", (ticket_id,))
        t = await cur.fetchone()
        if t is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ticket_id!r}")
        if t["status"] == "resolved" or t["category"] not in ROBOT_CATEGORIES or t["lat"] is None:
            raise HTTPException(status.HTTP_409_CONFLICT,
                                f"ticket {ticket_id} cannot be dispatched ({t['status']}, {t['category']})")
        await cur.execute("UPDATE tasks SET approved_by = %s, approved_at = %s, updated_at = %s"
                          " WHERE ticket_id = %s AND status = 'proposed' RETURNING task_id",
                          (token.name, now, now, ticket_id))
        row = await cur.fetchone()
        if row is None:
            await cur.execute("SELECT 1 FROM tasks WHERE ticket_id = %s AND status IN ('sent', 'acked', 'in_progress')",
                              (ticket_id,))
            if await cur.fetchone() is not None:
                raise HTTPException(status.HTTP_409_CONFLICT, f"ticket {ticket_id} already has a robot on it")
            task_id = f"tsk-{uuid.uuid4().hex[:20]}"
            await cur.execute(
                "INSERT INTO tasks (task_id, ticket_id, kind, action, lat, lon, status, deadline, approved_by,"
                " approved_at, created_at, updated_at) VALUES (%s, %s, 'robot', %s, %s, %s, 'proposed', %s, %s, %s,"
                " %s, %s)", (task_id, ticket_id, ROBOT_CATEGORIES[t["category"]], t["lat"], t["lon"],
                             now + timedelta(seconds=DispatchConfig().task_deadline_s), token.name, now, now, now))
        else:
            task_id = row["task_id"]
        await cur.execute("INSERT INTO ticket_history (ticket_id, ts, actor, action, details)"
                          " VALUES (%s, %s, %s, 'dispatch_approved', %s)",
                          (ticket_id, now, token.name, Jsonb({"task_id": task_id})))
        await cur.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = %s", (task_id,))  # type: ignore[arg-type]
        task = await cur.fetchone()
    assert task is not None
    return TaskOut(**task)


@router.get("/webhooks", summary="Agency webhook subscriptions (secrets are never shown)")
async def list_subscriptions(token: AdminToken, conn: Conn) -> list[SubscriptionOut]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, kind, origin, agency, url, events, active, created_at FROM webhook_subscriptions"
                          " ORDER BY id")
        return [SubscriptionOut(**r) for r in await cur.fetchall()]


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, summary="Subscribe an agency's endpoint")
async def create_subscription(body: SubscriptionIn, token: AdminToken, conn: Conn) -> SubscriptionOut:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("INSERT INTO webhook_subscriptions (agency, url, secret, events) VALUES (%s, %s, %s, %s)"
                          " RETURNING id, kind, origin, agency, url, events, active, created_at",
                          (body.agency.value, str(body.url), body.secret, list(body.events)))
        row = await cur.fetchone()
    assert row is not None
    return SubscriptionOut(**row)


@router.get("/webhooks/deliveries", summary="The delivery log, newest first")
async def list_deliveries(token: AdminToken, conn: Conn,
                          status_: Annotated[Literal["pending", "delivered", "failed", "cancelled"] | None,
                                             Query(alias="status")] = None,
                          limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[DeliveryOut]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, subscription_id, ticket_id, event, step, attempts, status, last_status,"
                          " last_error, created_at, next_attempt_at, delivered_at FROM webhook_deliveries"
                          " WHERE %(s)s::text IS NULL OR status = %(s)s ORDER BY created_at DESC, id DESC"
                          " LIMIT %(limit)s", {"s": status_, "limit": limit})
        return [DeliveryOut(**r) for r in await cur.fetchall()]


@router.post("/webhooks/deliveries/{delivery_id}/retry", summary="Try a failed delivery again now",
             responses=NOT_FOUND)
async def retry_delivery(delivery_id: int, token: AdminToken, conn: Conn) -> DeliveryOut:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()"
                          " WHERE id = %s AND status = 'failed' RETURNING id, subscription_id, ticket_id, event, step,"
                          " attempts, status, last_status, last_error, created_at, next_attempt_at, delivered_at",
                          (delivery_id,))
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no failed delivery {delivery_id}")
    return DeliveryOut(**row)
