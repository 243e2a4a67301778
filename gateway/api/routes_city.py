"""The city pack as the API shows it, its plans, and the admin's reload.

``POST /api/v1/admin/city/reload`` re-reads ``URBANOPS_CITY_DIR`` (as SIGHUP does): a pack
with problems is refused with every problem listed and the running pack stays.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from citypack import CityPack
from citypack.plans import Plan
from gateway.api.deps import API_PREFIX, AUTH_RESPONSES, NOT_FOUND, AdminToken, City, require_role
from gateway.security.auth import Role

router = APIRouter(prefix=API_PREFIX, tags=["city"], responses=AUTH_RESPONSES,
                   dependencies=[Depends(require_role(Role.OPERATOR))])


class NamesOut(BaseModel):
    zh: str
    en: str


class DistrictOut(BaseModel):
    id: str
    name: NamesOut


class AgencyOut(BaseModel):
    id: str
    name: NamesOut
    channels: list[str] = Field(description="channel types configured (webhook, wecom, dingtalk, email)")


class PlanOut(BaseModel):
    id: str
    lang: str
    title: str
    categories: list[str]
    sections: list[dict[str, Any]] = Field(description="number and heading of each section")


class CityOut(BaseModel):
    id: str
    name: NamesOut
    timezone: str
    languages: list[str]
    approximate: bool = Field(description="outlines are demonstration drawings, not survey data")
    sha256: str = Field(description="of every file in the pack: the version decisions were made under")
    districts: list[DistrictOut]
    agencies: list[AgencyOut]
    sla_minutes: dict[str, dict[str, float]] = Field(
        description="'default' and per-category exceptions: severity -> minutes to first response")
    escalation: list[dict[str, Any]]
    plans: list[PlanOut]
    zones: int
    places: int


class ReloadOut(BaseModel):
    ok: bool
    id: str
    sha256: str
    problems: list[str] = Field(default_factory=list, description="file, feature, field: what is wrong")


def _minutes(times: dict[Any, Any]) -> dict[str, float]:
    return {str(getattr(s, "value", s)): t.total_seconds() / 60 for s, t in times.items()}


def _plan(p: Plan) -> PlanOut:
    return PlanOut(id=p.id, lang=p.lang, title=p.title, categories=[c.value for c in p.categories],
                   sections=[{"number": s.number, "heading": s.heading} for s in p.sections])


def city_out(pack: CityPack) -> CityOut:
    c = pack.config
    return CityOut(
        id=pack.id, name=NamesOut(zh=c.name.zh, en=c.name.en), timezone=c.timezone, languages=list(c.languages),
        approximate=c.approximate, sha256=pack.sha256,
        districts=[DistrictOut(id=d.id, name=NamesOut(zh=d.name_zh, en=d.name_en)) for d in pack.districts.values()],
        agencies=[AgencyOut(id=a.value, name=NamesOut(zh=i.name.zh, en=i.name.en),
                            channels=[ch.type for ch in i.channels]) for a, i in c.agencies.items()],
        sla_minutes={"default": _minutes(c.sla.default),
                     **{cat.value: _minutes(t) for cat, t in c.sla.categories.items()}},
        escalation=[{"after_minutes": s.after.total_seconds() / 60, "notify": [str(n) for n in s.notify]}
                    for s in c.escalation],
        plans=[_plan(p) for p in pack.plans], zones=len(pack.zones), places=len(pack.places))


@router.get("/city", summary="The city pack in use: districts, agencies, SLA, escalation, plans")
async def get_city(city: City) -> CityOut:
    return city_out(city.pack)


@router.get("/city/plans/{plan_id}", summary="One emergency plan, whole, in the language asked for",
            responses=NOT_FOUND)
async def get_plan(city: City, plan_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")],
                   lang: Annotated[str, Query(pattern=r"^(zh|en)")] = "zh") -> dict[str, Any]:
    plan = city.pack.plan(plan_id, lang)
    if plan is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no plan {plan_id!r}")
    return {**_plan(plan).model_dump(), "preamble": plan.preamble,
            "sections": [{"number": s.number, "heading": s.heading, "text": s.text} for s in plan.sections]}


@router.post("/admin/city/reload", summary="Re-read the city pack (as SIGHUP does); refused packs keep the old one",
             responses={422: {"model": ReloadOut, "description": "The pack has problems; the running one stays"}})
async def reload_city(token: AdminToken, city: City) -> Any:
    result = await run_in_threadpool(city.reload)
    out = ReloadOut(ok=result.ok, id=result.pack_id, sha256=result.sha256, problems=result.problems)
    if not result.ok:
        return JSONResponse(out.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return out
