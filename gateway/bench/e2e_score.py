"""Scoring ``bench e2e``: tickets read from the API against the planted incidents.

- ``linker`` says which planted incidents a ticket's observations show: a citizen report by its
  Open311 id, a sensor breach by the planted sensor's id, a robot's event by robot and label, a
  vision observation by lying within ``VISION_MATCH_M`` of a planted object.
- ``score``: a planted incident is *correct* when exactly one ticket shows it, that ticket shows
  nothing else planted, and its category is the planted one; a ticket showing nothing planted is
  a *false ticket* (``quiet_false_tickets``: those whose first observation came in the quiet
  control); a planted incident shown by several tickets counts ``duplicates`` (one per extra
  ticket), one no ticket shows is *missed*, one sharing its ticket with another planted one is
  *merged*. Latency: first sign to the first moment a ticket showing it was readable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from devices.geography import distance_m
from gateway.bench.e2e_plan import SOURCES, Plan
from gateway.bench.e2e_watch import Linker, SeenTicket

VISION_MATCH_M = 50.0
DEVICE_SOURCES = ("sensor", "robot", "vision")  # the "device-raised" incidents
TARGET_P95_S = 2.0


def linker(plan: Plan, request_ids: dict[str, str]) -> Linker:
    """``request_ids`` (incident -> Open311 id) may still be filling in: it is read at each call."""
    sensors = {i.device_id: i.incident_id for i in plan.incidents if i.source == "sensor"}
    robots = {(i.device_id, i.label): i.incident_id for i in plan.incidents if i.source == "robot"}
    objects = [i for i in plan.incidents if i.source == "vision"]

    def link(observations: list[dict[str, Any]]) -> set[str]:
        found: set[str] = set()
        by_request = {rid: iid for iid, rid in request_ids.items()}
        for o in observations:
            hit: str | None = None
            if o["source"] == "citizen":
                hit = by_request.get(o["observation_id"])
            elif o["source"] == "sensor":
                hit = sensors.get(o["device_id"])
            elif o["source"] == "robot":
                hit = robots.get((o["device_id"], o["label"]))
            elif o["source"] == "vision" and o["lat"] is not None and o["lon"] is not None:
                near = [(distance_m(o["lat"], o["lon"], i.spot.lat, i.spot.lon), i.incident_id) for i in objects]
                best = min(near, default=None)
                hit = best[1] if best is not None and best[0] <= VISION_MATCH_M else None
            if hit is not None:
                found.add(hit)
        return found

    return link


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest rank (so p95 of a handful of values is their largest)."""
    data = sorted(values)
    if not data:
        return None
    return round(data[max(0, math.ceil(q * len(data)) - 1)], 3)


def _sources(t: SeenTicket) -> set[str]:
    return {str(o["source"]) for o in t.observations}


def _first_obs(t: SeenTicket) -> datetime | None:
    stamps = [datetime.fromisoformat(str(o["ts"]).replace("Z", "+00:00")) for o in t.observations]
    return min(stamps, default=None)


def score(plan: Plan, tickets: list[SeenTicket], first_sign: dict[str, float], quiet_end: datetime
          ) -> dict[str, Any]:
    showing: dict[str, list[SeenTicket]] = {i.incident_id: [] for i in plan.incidents}
    false: list[SeenTicket] = []
    for t in tickets:
        if not t.links:
            false.append(t)
        for planted in t.links:
            showing[planted].append(t)
    rows: dict[str, dict[str, Any]] = {}
    for inc in plan.incidents:
        ts = showing[inc.incident_id]
        readable = min((t.links[inc.incident_id] for t in ts), default=None)
        sign = first_sign.get(inc.incident_id)
        latency = round(readable - sign, 3) if readable is not None and sign is not None else None
        merged = any(len(t.links) > 1 for t in ts)
        rows[inc.incident_id] = {
            "source": inc.source, "category": inc.category, "tickets": len(ts),
            "ticket_categories": sorted({t.category for t in ts}), "latency_s": latency,
            "ticket_labels": sorted({str(o.get("label") or o.get("metric") or o["source"])
                                     for t in ts for o in t.observations}),
            "correct": len(ts) == 1 and not merged and ts[0].category == inc.category, "merged": merged,
            "signed": sign is not None,
        }

    def figures(ids: list[str], false_here: list[SeenTicket]) -> dict[str, Any]:
        sel = [rows[i] for i in ids]
        lat = [r["latency_s"] for r in sel if r["latency_s"] is not None]
        return {
            "incidents_planted": len(sel), "tickets_correct": sum(r["correct"] for r in sel),
            "false_tickets": len(false_here), "duplicates": sum(max(0, r["tickets"] - 1) for r in sel),
            "missed": sum(r["tickets"] == 0 for r in sel), "merged": sum(r["merged"] for r in sel),
            "wrong_category": sum(r["tickets"] == 1 and not r["merged"] and not r["correct"] for r in sel),
            "p50_s": percentile(lat, 0.5), "p95_s": percentile(lat, 0.95),
            "max_s": round(max(lat), 3) if lat else None,
        }

    quiet_false = [t for t in false if (first := _first_obs(t)) is not None and first < quiet_end]
    result = figures(list(rows), false)
    result["quiet_false_tickets"] = len(quiet_false)
    result["by_source"] = {
        s: figures([i for i, r in rows.items() if r["source"] == s], [t for t in false if s in _sources(t)])
        for s in SOURCES}
    device = figures([i for i, r in rows.items() if r["source"] in DEVICE_SOURCES],
                     [t for t in false if _sources(t) & set(DEVICE_SOURCES)])
    result["device_p50_s"], result["device_p95_s"] = device["p50_s"], device["p95_s"]
    result["targets_met"] = {
        "device_p95_le_2s": device["p95_s"] is not None and device["p95_s"] <= TARGET_P95_S,
        "each_ticketed_once": all(r["tickets"] == 1 and not r["merged"] for r in rows.values()),
        "no_false_in_quiet_control": not quiet_false,
    }
    result["incidents"] = rows
    result["false_ticket_detail"] = [
        {"ticket_id": t.ticket_id, "category": t.category, "sources": sorted(_sources(t)),
         "labels": sorted({str(o.get("label") or o.get("metric")) for o in t.observations})} for t in false]
    return result
