"""Ground truth: what a run really did, one JSON object per line, for scoring later stages.

A record says what happened (label, expected category/agency/severity per SPEC §3), where
(district, lat/lon, optional named place), when (start/end, clipped to the run, and the
first message that showed it) and which devices show it (their msg ids for events).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from devices.vocabulary import Agency, Category, Severity


class TruthRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: str
    source: Literal["scenario", "random"]  # random: a device's own unscripted event
    type: Literal["sensor_breach", "robot_event", "device_event", "visual"]
    label: str
    category: Category
    agency: Agency
    severity: Severity | None = None
    district: str
    lat: float
    lon: float
    place: str | None = None
    place_tags: list[str] = Field(default_factory=list)
    start: AwareDatetime
    end: AwareDatetime
    first_msg_ts: AwareDatetime | None = None  # first message that carried the signal
    devices: list[str] = Field(default_factory=list)
    metric: str | None = None
    value: float | None = None  # the peak injected value
    msg_ids: list[str] = Field(default_factory=list)  # event messages that report it
    text: str | None = None


def write_truth(path: Path, records: Iterable[TruthRecord]) -> int:
    """Write records as JSONL (replacing the file); return how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(rec.model_dump_json(exclude_none=True) + "\n")
            n += 1
    tmp.replace(path)  # readers never see half a file
    return n


def read_truth(path: Path) -> list[TruthRecord]:
    with path.open(encoding="utf-8") as f:
        return [TruthRecord.model_validate_json(line) for line in f if line.strip()]
