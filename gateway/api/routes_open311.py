"""Open311 GeoReport v2 under ``/open311/v2/``: services, and citizen service requests.

- The GETs are public, as GeoReport v2 defines them: ``services.json``, ``services/{code}.json``
  (the catalogue: one service per incident category), ``requests.json`` and
  ``requests/{id}.json``. Without a token they show privacy-safe fields only (masked text,
  location to ~100 m, no address or media: ``gateway/api/open311_view.py``); with a valid
  token (``Authorization: Bearer <token>`` or ``api_key``) the request as stored. A token that
  is presented but wrong is refused (401), never silently read as "no token".
- ``requests.json`` POST needs an API token of role operator or higher, sent as the bearer
  header or, as GeoReport v2 clients do, as the ``api_key`` form field (or query parameter).
  A city app or call centre gets an operator token.
- A POSTed request becomes a ``citizen`` observation (queued for triage like any other); its
  ``service_request_id`` is that observation's id. Its status reads ``closed`` once the ticket
  triage made from it is resolved (or its incident closed). Personal fields (email, name, phone)
  are not stored.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from devices.vocabulary import LEAD_AGENCY
from gateway.api.deps import AUTH_RESPONSES, Pool, get_conn
from gateway.api.open311_view import RequestOut, find_requests, request_out
from gateway.api.params import Rfc3339, is_storable_text
from gateway.api.routes_feed import authenticate
from gateway.security.auth import Role, Token
from gateway.store.observations import ObservationRow, insert_observations_async
from triage import pii
from triage.models import Category
from triage.wording import CATEGORY_NAME

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"])
_bearer = HTTPBearer(auto_error=False, scheme_name="bearer")
MAX_DESCRIPTION = 4000
DEFAULT_WINDOW = timedelta(days=90)  # GeoReport v2: without dates, the last 90 days


class ServiceOut(BaseModel):
    service_code: str = Field(examples=["sanitation"])
    service_name: str = Field(examples=["sanitation problem"])
    description: str
    metadata: bool = False
    type: Literal["realtime"] = "realtime"
    keywords: str
    group: str = Field(description="The agency that acts on it", examples=["urban_management"])


class AttributeOut(BaseModel):
    code: str


class DefinitionOut(BaseModel):
    service_code: str
    attributes: list[AttributeOut] = Field(description="Always empty: no service asks for extra fields")


class CreatedOut(BaseModel):
    service_request_id: str = Field(examples=["citizen-3f2a9c0d1e4b5a67"])
    service_notice: str
    account_id: str | None = None


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": code, "description": description}], status_code=code)


@router.get("/services.json", summary="The service list (public): one service per incident category")
async def services() -> list[ServiceOut]:
    return [ServiceOut(service_code=c.value, service_name=CATEGORY_NAME["en"][c],
                       description=f"Report {CATEGORY_NAME['en'][c]} ({CATEGORY_NAME['zh'][c]})",
                       keywords=c.value.replace("_", " "), group=LEAD_AGENCY[c].value) for c in Category]


@router.get("/services/{service_code}.json", summary="A service's definition (public): no extra attributes",
            responses={404: {"description": "Open311 error list"}})
async def service_definition(service_code: Annotated[str, Path(max_length=64, examples=["sanitation"])]) -> Any:
    if service_code not in Category.__members__.values():
        return _error(404, f"no service {service_code!r}: see services.json")
    return DefinitionOut(service_code=service_code, attributes=[])


async def open311_viewer(
    pool: Pool,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Query(max_length=200, description="Optional: a token for the full view")] = None,
) -> Token | None:
    """None for a key-less reader (the public view); a presented secret must be a valid token."""
    secret = creds.credentials if creds else api_key
    if not (secret or "").strip():
        return None
    return await authenticate(pool, secret, Role.OPERATOR, "'Authorization: Bearer <token>' or api_key=<token>")


Viewer = Annotated[Token | None, Depends(open311_viewer)]
_RequestId = Annotated[str, Path(min_length=1, max_length=140, pattern=r"^[^\x00/]+$",
                                 examples=["citizen-3f2a9c0d1e4b5a67"])]


@router.get("/requests.json", summary="Citizen service requests (public; newest first, at most 1000)",
            responses=AUTH_RESPONSES)
async def list_requests(
    request: Request,
    token: Viewer,
    pool: Pool,
    service_code: Category | None = None,
    status_: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None,
    start_date: Rfc3339 | None = None,
    end_date: Rfc3339 | None = None,
    service_request_id: Annotated[str | None, Query(max_length=2000, description="Comma-separated ids; overrides"
                                                    " every other filter")] = None,
) -> list[RequestOut]:
    salt = request.app.state.api.settings.pii_salt.encode()
    async with pool.connection(timeout=5.0) as conn:
        if service_request_id:  # GeoReport v2: ids override all other arguments
            ids = [s.strip() for s in service_request_id.split(",") if s.strip()]
            rows = await find_requests(conn, window=None, ids=ids)
        else:
            end = end_date or datetime.now(UTC)
            rows = await find_requests(conn, window=(start_date or end - DEFAULT_WINDOW, end), status=status_,
                                       code=service_code.value if service_code else None)
    return [request_out(r, full=token is not None, salt=salt) for r in rows]


@router.get("/requests/{service_request_id}.json", summary="One service request (public), as a list of one",
            responses={**AUTH_RESPONSES, 404: {"description": "Open311 error list"}})
async def get_request(request: Request, service_request_id: _RequestId, token: Viewer, pool: Pool) -> Any:
    async with pool.connection(timeout=5.0) as conn:
        rows = await find_requests(conn, window=None, ids=[service_request_id])
    if not rows:
        return _error(404, f"no service request {service_request_id!r}")
    salt = request.app.state.api.settings.pii_salt.encode()
    return [request_out(rows[0], full=token is not None, salt=salt).model_dump(mode="json")]


async def _fields(request: Request) -> dict[str, str]:
    """GeoReport v2 POSTs are form-encoded; JSON is accepted too."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            doc = json.loads(raw or b"{}")
        except ValueError as err:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not JSON") from err
        if not isinstance(doc, dict):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "body must be a JSON object")
        fields = {str(k): str(v) for k, v in doc.items() if v is not None}
    else:
        try:
            fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
        except UnicodeDecodeError as err:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "form is not UTF-8") from err
    if not all(is_storable_text(k) and is_storable_text(v) for k, v in fields.items()):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "text must be valid UTF-8 without NUL")
    return fields


def _coordinate(fields: dict[str, str], name: str, bound: float) -> float | None:
    if not fields.get(name):
        return None
    try:
        value = float(fields[name])
    except ValueError:
        value = float("nan")
    if not -bound <= value <= bound:  # also false for NaN
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{name} must be a number in [-{bound}, {bound}]")
    return value


@router.post("/requests.json", summary="Report a problem: becomes a citizen observation and goes through triage",
             status_code=201, responses={**AUTH_RESPONSES, 400: {"description": "Open311 error list"}},
             openapi_extra={"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                 "schema": {"type": "object", "required": ["service_code", "description"], "properties": {
                     "service_code": {"type": "string", "enum": [c.value for c in Category]},
                     "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
                     "lat": {"type": "number"}, "long": {"type": "number"},
                     "address_string": {"type": "string"}, "media_url": {"type": "string"},
                     "api_key": {"type": "string"}}},
                 "example": {"service_code": "sanitation", "description": "垃圾堆在路边很多天了",
                             "lat": 22.5431, "long": 114.0579}}}}})
async def create_request(request: Request, pool: Pool,
                         creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Any:
    try:
        fields = await _fields(request)
        secret = creds.credentials if creds else fields.get("api_key") or request.query_params.get("api_key")
        token = await authenticate(pool, secret, Role.OPERATOR, "'Authorization: Bearer <token>' or api_key=<token>")
        code = fields.get("service_code", "")
        if code not in Category.__members__.values():
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "service_code must be one of services.json")
        description = fields.get("description", "").strip()
        if not description or len(description) > MAX_DESCRIPTION or "\x00" in description:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"description is required (1-{MAX_DESCRIPTION} chars)")
        lat, lon = _coordinate(fields, "lat", 90), _coordinate(fields, "long", 180)
        address = fields.get("address_string", "").strip()[:200].replace("\x00", "") or None
        if (lat is None or lon is None) and not address:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "give lat and long, or address_string")
    except HTTPException as err:
        if err.status_code != status.HTTP_400_BAD_REQUEST:
            raise
        return _error(400, str(err.detail))
    extra = {"service_code": code, "open311": True, "reported_via": token.name}
    if address:
        extra["address_string"] = address
    if media := fields.get("media_url", "").strip()[:500].replace("\x00", ""):
        extra["media_url"] = media
    city = request.app.state.api.city.pack  # the district from the city's own outlines
    district = city.district_at(lat, lon) if lat is not None and lon is not None else None
    # Personal data is masked before anything is stored (triage/pii.py); the salted hash links reports.
    description = pii.mask(description, request.app.state.api.settings.pii_salt.encode())
    row = ObservationRow(ts=datetime.now(UTC), observation_id=f"citizen-{uuid.uuid4().hex[:16]}", source="citizen",
                         text=description, lat=lat, lon=lon, district=district, extra=extra)
    async for conn in get_conn(pool):
        await insert_observations_async(conn, [row])
    notice = "Thank you. Your report was received and will be triaged."
    return JSONResponse([CreatedOut(service_request_id=row.observation_id, service_notice=notice).model_dump()],
                        status_code=201)
