"""``city.yaml``: the city's name, time zone, languages, agencies, SLA and escalation ladder."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, field_validator, model_validator

from devices.vocabulary import Agency, Category, Severity

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """``"15m"``, ``"2h"``, ``"1.5d"`` or a number of minutes."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(minutes=float(value))
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"not a duration: {value!r} (write e.g. 15m, 2h, 1d)")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


class Channel(Strict):
    """Where an agency's duty office is told (delivery formats: #13 part 6)."""

    type: Literal["webhook", "wecom", "dingtalk", "email"]
    url: HttpUrl | None = None
    secret: str | None = None  # DingTalk's signing secret
    to: list[str] = Field(default_factory=list)  # email recipients

    @model_validator(mode="after")
    def _complete(self) -> Channel:
        if self.type == "email":
            if not self.to or not all("@" in a for a in self.to):
                raise ValueError("an email channel needs 'to': a list of addresses")
        elif self.url is None:
            raise ValueError(f"a {self.type} channel needs 'url'")
        return self


class AgencyInfo(Strict):
    name: Names
    channels: list[Channel] = Field(default_factory=list)


SeverityTimes = dict[Severity, Duration]


class Sla(Strict):
    """Time to first response: one per severity, with per-category exceptions."""

    default: SeverityTimes
    categories: dict[Category, SeverityTimes] = Field(default_factory=dict)

    @field_validator("default")
    @classmethod
    def _every_severity(cls, v: SeverityTimes) -> SeverityTimes:
        missing = [s.value for s in Severity if s not in v]
        if missing:
            raise ValueError(f"every severity needs a time; missing: {', '.join(missing)}")
        return v

    def due_after(self, category: Category | str | None, severity: Severity | str) -> timedelta:
        sev = Severity(severity)
        override = self.categories.get(Category(category), {}) if category else {}
        return override.get(sev, self.default[sev])


class LadderStep(Strict):
    """After ``after`` past the SLA with no acknowledgement, ``notify`` is told."""

    after: Duration
    notify: list[Agency | Literal["duty_office"]] = Field(min_length=1)


class CityConfig(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    name: Names
    timezone: str
    languages: list[Literal["zh", "en"]] = Field(min_length=1)
    approximate: bool = Field(description="outlines are demonstration drawings, not survey data")
    notice: Names | None = None  # shown with the map: where the geography comes from
    agencies: dict[Agency, AgencyInfo]
    sla: Sla
    escalation: list[LadderStep] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v

    @field_validator("agencies")
    @classmethod
    def _every_agency(cls, v: dict[Agency, AgencyInfo]) -> dict[Agency, AgencyInfo]:
        missing = [a.value for a in Agency if a not in v]
        if missing:
            raise ValueError(f"every agency role needs the city's name for it; missing: {', '.join(missing)}")
        return v

    @field_validator("escalation")
    @classmethod
    def _increasing(cls, v: list[LadderStep]) -> list[LadderStep]:
        for a, b in itertools.pairwise(v):
            if b.after <= a.after:
                raise ValueError("escalation steps must come later and later ('after' increasing)")
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
