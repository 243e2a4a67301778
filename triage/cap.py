"""Ticket exports: OASIS CAP 1.2 XML and FIWARE Smart Data Models ``Alert`` JSON.

CAP: elements are written in the order the CAP 1.2 schema's sequences require; times use
``YYYY-MM-DDThh:mm:ss-00:00`` (CAP forbids "Z" and writes UTC as -00:00); the area is
the incident location as ``<circle>lat,lon radius_km</circle>``. The identifier is the
ticket id plus the send time, so an update is a new message that ``references`` the last.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from triage import taxonomy as tx
from triage.models import Category, Ticket
from triage.wording import CATEGORY_NAME

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_STATUS = ("Actual", "Exercise", "System", "Test", "Draft")
CAP_MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")

#: Radius (km) of the CAP circle per category: how far the hazard reaches around the point.
AREA_RADIUS_KM = {
    Category.FIRE: 0.5, Category.FLOOD: 0.5, Category.AIR_QUALITY: 1.0, Category.NOISE: 0.3,
}
_DEFAULT_RADIUS_KM = 0.1

#: FIWARE ``Alert.category`` and default ``subCategory`` per incident category.
FIWARE_CATEGORY: dict[Category, tuple[str, str | None]] = {
    Category.FIRE: ("security", "buildingFire"),
    Category.FLOOD: ("naturalDisaster", "flood"),
    Category.ROAD_HAZARD: ("traffic", "hazardOnRoad"),
    Category.TRAFFIC: ("traffic", "trafficJam"),
    Category.SANITATION: ("environment", None),
    Category.AIR_QUALITY: ("environment", "airPollution"),
    Category.NOISE: ("environment", None),
    Category.INFRASTRUCTURE: ("security", None),
    Category.PUBLIC_SAFETY: ("security", "suspiciousAction"),
    Category.DEVICE_FAULT: ("security", None),
}
#: A more precise FIWARE ``subCategory`` from the evidence's labels and metrics.
FIWARE_SUBCATEGORY = {
    "smoke": "fireRisk", "gas_lel_pct": "fireRisk", "pothole": "pothole",
    "illegal_parking": "carStopped", "person_down": "fallenPatient", "crowd": "crowdRisk",
    "rainfall_mm_h": "rainfall", "pm25": "airPollution", "pm10": "airPollution",
}


def cap_time(value: datetime) -> str:
    """CAP 1.2 dateTime: seconds precision, numeric offset, UTC written as -00:00."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _param(info: ET.Element, tag: str, name: str, value: str) -> None:
    el = _sub(info, tag)
    _sub(el, "valueName", name)
    _sub(el, "value", value)


def cap_xml(ticket: Ticket, *, sent: datetime, sender: str = "triage@urbanops.local",
            status: str = "Actual", msg_type: str = "Alert",
            references: str | None = None) -> str:
    """The ticket as one CAP 1.2 ``<alert>`` document (UTF-8 XML text)."""
    if status not in CAP_STATUS or msg_type not in CAP_MSG_TYPES:
        raise ValueError(f"CAP status/msgType not allowed: {status}/{msg_type}")
    if msg_type in ("Update", "Cancel") and not references:
        raise ValueError(f"CAP {msg_type} needs references")
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", f"{ticket.ticket_id}.{sent.astimezone(UTC):%Y%m%dT%H%M%S}")
    _sub(alert, "sender", sender)
    _sub(alert, "sent", cap_time(sent))
    _sub(alert, "status", status)
    _sub(alert, "msgType", msg_type)
    _sub(alert, "source", f"urbanops triage ({ticket.triage.backend})")
    _sub(alert, "scope", "Restricted")
    _sub(alert, "restriction", "City emergency-management and responding agencies")
    if references:
        _sub(alert, "references", references)
    _sub(alert, "incidents", ticket.incident_id)
    info = _sub(alert, "info")
    _sub(info, "language", "zh-CN" if ticket.language == "zh" else "en-US")
    _sub(info, "category", tx.CAP_CATEGORY[ticket.category])
    _sub(info, "event", CATEGORY_NAME[ticket.language][ticket.category])
    _sub(info, "urgency", ticket.urgency.value)
    _sub(info, "severity", tx.CAP_SEVERITY[ticket.severity])
    _sub(info, "certainty", ticket.certainty.value)
    _param(info, "eventCode", "urbanops:category", ticket.category.value)
    if ticket.opened_at is not None:
        _sub(info, "onset", cap_time(ticket.opened_at))
    _sub(info, "senderName", "urbanops")
    _sub(info, "headline", ticket.summary[:160])
    _sub(info, "description", ticket.summary)
    _sub(info, "instruction", "\n".join(ticket.actions))
    for name, value in (
        ("urbanops:ticket_id", ticket.ticket_id), ("urbanops:agency", ticket.agency.value),
        ("urbanops:severity", ticket.severity.value), ("urbanops:sla_due", cap_time(ticket.sla_due)),
        ("urbanops:needs_review", str(ticket.needs_review).lower()),
        ("urbanops:confidence", f"{ticket.confidence:.2f}"),
    ):
        _param(info, "parameter", name, value)
    area = _sub(info, "area")
    loc = ticket.location
    desc = " ".join(p for p in (ticket.district, loc.address if loc else None) if p)
    _sub(area, "areaDesc", desc or "unknown location")
    if loc and loc.lat is not None and loc.lon is not None:
        radius = AREA_RADIUS_KM.get(ticket.category, _DEFAULT_RADIUS_KM)
        _sub(area, "circle", f"{loc.lat:.6f},{loc.lon:.6f} {radius}")
    ET.register_namespace("", CAP_NS)
    body = ET.tostring(alert, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def fiware_alert(ticket: Ticket, *, issued: datetime) -> dict[str, Any]:
    """The ticket as a FIWARE Smart Data Models ``Alert`` entity (key-values format)."""
    category, sub = FIWARE_CATEGORY[ticket.category]
    for ev in ticket.evidence:
        key = ev.label or ev.metric
        if key in FIWARE_SUBCATEGORY:
            sub = FIWARE_SUBCATEGORY[key]
            break
    if ticket.category is Category.FIRE and ticket.location and "park" in ticket.location.place_tags:
        sub = "forestFire" if sub == "buildingFire" else sub
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Alert:{ticket.ticket_id}",
        "type": "Alert",
        "category": category,
        "severity": ticket.severity.value,
        "name": CATEGORY_NAME[ticket.language][ticket.category],
        "description": ticket.summary,
        "dateIssued": issued.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "validFrom": (ticket.opened_at or issued).astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "validTo": ticket.sla_due.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "alertSource": f"urn:ngsi-ld:Incident:{ticket.incident_id}",
        "dataProvider": "urbanops",
    }
    if sub:
        entity["subCategory"] = sub
    loc = ticket.location
    if loc and loc.lat is not None and loc.lon is not None:
        entity["location"] = {"type": "Point", "coordinates": [loc.lon, loc.lat]}
    if ticket.district or (loc and loc.address):
        entity["address"] = {k: v for k, v in {
            "addressLocality": ticket.district, "streetAddress": loc.address if loc else None,
        }.items() if v}
    return entity
