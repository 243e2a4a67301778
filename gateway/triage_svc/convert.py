"""Stored observation rows ↔ the triage package's models."""

from __future__ import annotations

from typing import Any

from triage.models import Location, Observation, Position, Source

OBSERVATION_COLUMNS = ("observation_id", "ts", "source", "device_id", "device_kind", "district", "label",
                       "confidence", "count", "metric", "value", "text", "lat", "lon", "place_tags")


def to_observation(row: dict[str, Any]) -> tuple[Observation, str | None, Location | None]:
    """(observation, district, location) for ``Correlator.observe``."""
    position = (Position(lat=row["lat"], lon=row["lon"])
                if row["lat"] is not None and row["lon"] is not None else None)
    obs = Observation(
        source=Source(row["source"]), device_id=row["device_id"], device_kind=row["device_kind"],
        ts=row["ts"], label=row["label"], confidence=row["confidence"], count=row["count"],
        metric=row["metric"], value=row["value"], text=row["text"], position=position,
    )
    location = None
    if position is not None or row["place_tags"]:
        location = Location(lat=row["lat"], lon=row["lon"], place_tags=list(row["place_tags"] or []))
    return obs, row["district"], location
