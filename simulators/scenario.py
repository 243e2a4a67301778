"""Scenario files (YAML): incidents injected at a time offset and a place.

```yaml
name: smoke_and_spill
district: futian            # default district of the incidents (must be simulated)
random_events: true         # false: robots and drones report nothing unscripted
incidents:
  - type: sensor_breach     # a sensor reading crosses a threshold for a while
    at_s: 20
    duration_s: 60
    metric: smoke_obscuration_pct
    value: 12.0
    place: Lianhuashan Park # or location: {lat, lon}, or device: smoke-0001
  - type: robot_event       # a robot reports spill/obstacle/stuck/bin_full/low_battery
    at_s: 30
    label: spill
  - type: visual            # something only a camera can see (rendered by vision later)
    at_s: 10
    label: garbage
    location: {lat: 22.55, lon: 114.05}
```

Every incident may also set ``id``, ``category``, ``agency``, ``severity`` (SPEC §3) to
override the expected triage outcome written to ground truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from devices.metrics import PLAUSIBLE, SENSOR_METRICS
from devices.payloads import ROBOT_EVENT_LABELS, VISION_LABELS
from devices.vocabulary import Agency, Category, Severity

C = Category
# The category a reading of each metric signals when it breaches (None: say it explicitly).
METRIC_CATEGORY: dict[str, Category | None] = {
    "pm25": C.AIR_QUALITY, "pm10": C.AIR_QUALITY, "no2": C.AIR_QUALITY, "o3": C.AIR_QUALITY,
    "co": C.AIR_QUALITY, "noise_db": C.NOISE, "water_level_cm": C.FLOOD,
    "rainfall_mm_h": C.FLOOD, "temperature_c": C.FIRE, "smoke_obscuration_pct": C.FIRE,
    "gas_lel_pct": C.FIRE, "manhole_tilt_deg": C.INFRASTRUCTURE,
    "vibration_mm_s": C.INFRASTRUCTURE, "bin_fill_pct": C.SANITATION,
    "battery_pct": C.DEVICE_FAULT, "humidity_pct": None,
}
METRIC_LABEL: dict[str, str] = {
    "smoke_obscuration_pct": "smoke", "gas_lel_pct": "gas_leak", "temperature_c": "heat",
    "water_level_cm": "flooding", "rainfall_mm_h": "rainstorm", "noise_db": "noise",
    "manhole_tilt_deg": "damaged_manhole", "vibration_mm_s": "vibration",
    "bin_fill_pct": "bin_overflow", "battery_pct": "low_battery",
}
LABEL_CATEGORY: dict[str, Category] = {
    "spill": C.SANITATION, "obstacle": C.ROAD_HAZARD, "stuck": C.DEVICE_FAULT,
    "bin_full": C.SANITATION, "low_battery": C.DEVICE_FAULT,
    "fire": C.FIRE, "smoke": C.FIRE, "garbage": C.SANITATION, "flooding": C.FLOOD,
    "pothole": C.ROAD_HAZARD, "fallen_tree": C.ROAD_HAZARD, "debris": C.ROAD_HAZARD,
    "damaged_manhole": C.INFRASTRUCTURE, "person_down": C.PUBLIC_SAFETY,
    "crowd": C.PUBLIC_SAFETY, "vehicle": C.TRAFFIC, "illegal_parking": C.TRAFFIC,
}
RobotLabel = Literal["spill", "obstacle", "stuck", "bin_full", "low_battery"]
VisionLabel = Literal["fire", "smoke", "garbage", "flooding", "pothole", "fallen_tree", "debris",
                      "damaged_manhole", "person_down", "crowd", "vehicle", "illegal_parking"]
if set(get_args(RobotLabel)) != ROBOT_EVENT_LABELS or set(get_args(VisionLabel)) != VISION_LABELS:
    raise ImportError("scenario labels out of step with devices.payloads")  # caught by tests
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class ScenarioError(ValueError):
    """A scenario file that cannot be read, parsed or applied to the fleet."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class _Incident(_Strict):
    id: Name | None = None
    at_s: float = Field(ge=0, description="seconds after the run's start")
    district: Name | None = None
    category: Category | None = None
    agency: Agency | None = None
    severity: Severity | None = None


class _Placed(_Incident):
    location: Location | None = None
    place: str | None = None  # a named place of the district (devices.geography)

    @model_validator(mode="after")
    def _one_place(self) -> _Placed:
        if self.location is not None and self.place is not None:
            raise ValueError("give either location or place, not both")
        return self


class SensorBreach(_Placed):
    type: Literal["sensor_breach"]
    metric: str
    value: float
    duration_s: float = Field(default=60.0, gt=0)
    ramp_s: float = Field(default=0.0, ge=0)
    device: Name | None = None  # default: the nearest sensor with the metric
    radius_m: float = Field(default=0.0, ge=0, le=5000)  # neighbours show a weaker signal
    also: dict[str, float] = Field(default_factory=dict)  # other metrics on the same devices
    label: Name | None = None

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        if v not in SENSOR_METRICS:
            raise ValueError(f"unknown sensor metric {v!r} (known: {', '.join(sorted(SENSOR_METRICS))})")
        return v

    @model_validator(mode="after")
    def _values(self) -> SensorBreach:
        for metric, value in {self.metric: self.value, **self.also}.items():
            if metric not in SENSOR_METRICS:
                raise ValueError(f"unknown sensor metric {metric!r} in also")
            low, high = PLAUSIBLE[metric]
            if not low <= value <= high:
                raise ValueError(f"{metric}={value} is outside the plausible range {low}..{high}")
        if self.category is None and METRIC_CATEGORY.get(self.metric) is None:
            raise ValueError(f"metric {self.metric} has no default category: set category")
        if 2 * self.ramp_s > self.duration_s:
            raise ValueError("ramp_s must be at most half of duration_s")
        return self

    @property
    def expected_label(self) -> str:
        return self.label or METRIC_LABEL.get(self.metric, "air_pollution")

    @property
    def expected_category(self) -> Category:
        return self.category or METRIC_CATEGORY[self.metric] or C.PUBLIC_SAFETY


class RobotEvent(_Incident):
    type: Literal["robot_event"]
    label: RobotLabel
    robot: Name | None = None  # default: the district's first robot
    text: str | None = Field(default=None, max_length=2000)
    confidence: float | None = Field(default=None, ge=0, le=1)
    duration_s: float = Field(default=300.0, gt=0, description="how long the hazard stays")
    hold_s: float | None = Field(default=None, ge=0, description="robot stops this long")

    @property
    def expected_label(self) -> str:
        return self.label

    @property
    def expected_category(self) -> Category:
        return self.category or LABEL_CATEGORY[self.label]


class VisualIncident(_Placed):
    type: Literal["visual"]
    label: VisionLabel
    duration_s: float = Field(default=600.0, gt=0)
    count: int = Field(default=1, ge=1, le=100_000)

    @model_validator(mode="after")
    def _placed(self) -> VisualIncident:
        if self.location is None and self.place is None:
            raise ValueError("a visual incident needs a location or a place")
        return self

    @property
    def expected_label(self) -> str:
        return self.label

    @property
    def expected_category(self) -> Category:
        return self.category or LABEL_CATEGORY[self.label]


Incident = Annotated[SensorBreach | RobotEvent | VisualIncident, Field(discriminator="type")]


class Scenario(_Strict):
    name: Name
    description: str = ""
    district: Name | None = None
    random_events: bool = True
    incidents: list[Incident] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Scenario:
        ids = [i.id for i in self.incidents if i.id is not None]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate incident ids: {', '.join(dupes)}")
        return self

    def incident_ids(self) -> list[str]:
        """Each incident's id: its own, or ``inc-NNN`` by position."""
        return [i.id or f"inc-{n:03d}" for n, i in enumerate(self.incidents, start=1)]


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {where}: {e['msg']}")
    return "\n".join(lines)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ScenarioError(f"{source}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a mapping with name and incidents")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(f"{source}: invalid scenario\n{_describe(err)}") from err


def load_scenario(path: Path | str) -> Scenario:
    p = Path(path)
    if not p.is_file() and not p.suffix:
        p = BUILTIN_DIR / f"{p.name}.yaml"  # a bare name means a built-in scenario
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"cannot read scenario {path}: {err.strerror or err}") from err
    return parse_scenario(text, str(p))


BUILTIN_DIR = Path(__file__).parent / "scenarios"
