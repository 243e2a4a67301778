"""What to simulate: ``FleetConfig`` (validated, with errors a CLI user can act on)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from citypack import PackError
from citypack.cached import geography
from devices.geography import District

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


class FleetConfig(BaseModel):
    """A simulated fleet. Same config (seed, start, run_id included) -> same messages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sensors: int = Field(default=500, ge=0, le=100_000)
    robots: int = Field(default=10, ge=0, le=10_000)
    drones: int = Field(default=3, ge=0, le=10_000)
    rate: float = Field(default=1.0, gt=0, le=1000, description="telemetry msgs/s per device")
    duration_s: float = Field(default=60.0, gt=0)
    seed: int = 7
    districts: tuple[str, ...] = ("futian",)
    city_dir: Path | None = None  # the city pack the devices live in; None: the shipped demo pack
    protocol: Literal["json", "ros2"] = "json"
    scenario: Path | None = None
    truth_path: Path | None = None
    # Real time (True) or as fast as the broker takes it (False; timestamps then end "now").
    pace: bool = True
    start: AwareDatetime | None = None  # the simulated clock's t=0; default: derived at run
    run_id: str | None = Field(default=None, pattern=r"^[a-z0-9]{1,12}$")
    client_prefix: str = Field(default="sim", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    sensors_per_link: int = Field(default=250, ge=1, description="sensors per data connection")
    max_inflight: int = Field(default=1000, ge=1, le=65535)
    # Robots and drones obey ``.../cmd``; a commanded task (drive, clean, fly, hover) runs this
    # many times faster than real time so tests and demos see it end. Patrols are not affected.
    speed_factor: float = Field(default=1.0, gt=0, le=1000)
    # Patrol camera: every patrolling drone sends a frame of what is under it this often (simulated
    # seconds, at most one per telemetry tick), and flies over the scenario's visual incidents.
    # 0 = off: each frame costs ~75 ms of rendering (simulators/README.md), and a fleet without
    # frames is the same message stream as before this option existed.
    frame_interval_s: float = Field(default=0.0, ge=0, le=3600)

    @field_validator("districts", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        return tuple(x.strip() for x in v.split(",") if x.strip()) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _known(self) -> FleetConfig:
        v = self.districts
        if not v:
            raise ValueError("at least one district")
        try:
            known = self.geography
        except PackError as err:
            raise ValueError(str(err)) from None
        unknown = [d for d in v if d not in known]
        if unknown:
            raise ValueError(f"unknown district(s) {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(known))})")
        if len(set(v)) != len(v):
            raise ValueError("districts listed twice")
        return self

    @property
    def geography(self) -> dict[str, District]:
        """The city pack's districts (read once per process)."""
        return geography(self.city_dir)

    def district_list(self) -> list[District]:
        return [self.geography[d] for d in self.districts]

    @property
    def devices(self) -> int:
        return self.sensors + self.robots + self.drones

    def resolved_start(self, now: datetime | None = None) -> datetime:
        """t=0 of the simulated clock: ``start``, else now (paced) or now - duration
        (unpaced, so a fast run's timestamps are all in the past, never in the future)."""
        if self.start is not None:
            return self.start.astimezone(UTC)
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        return now if self.pace else now - timedelta(seconds=self.duration_s)

    def resolved_run_id(self, start: datetime) -> str:
        # Derived from the start instant: reruns with the same seed get fresh msg ids, so the
        # platform's (device_id, msg_id) dedupe never swallows a second run.
        return self.run_id or base36(int(start.timestamp() * 1000))
