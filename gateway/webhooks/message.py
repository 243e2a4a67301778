"""What a duty office reads: a ticket event as a short message in the channel's language.

Built only from the ticket's fixed fields, its address, summary (itself built from fixed
vocabulary, never from a citizen's words) and plan citations, so a report cannot write into an
agency's group chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from triage.models import Agency, Category, Severity
from triage.wording import AGENCY_NAME, CATEGORY_NAME, SEVERITY_NAME

EVENT_NAME = {
    "zh": {"created": "新工单", "escalated": "超时未接收", "reminder": "催办", "resolved": "已办结"},
    "en": {"created": "New ticket", "escalated": "Overdue, not acknowledged", "reminder": "Reminder",
           "resolved": "Resolved"},
}


_SEVERITIES = {s.value for s in Severity}
_CATEGORIES = {c.value for c in Category}
_AGENCIES = {a.value for a in Agency}


@dataclass(frozen=True)
class Message:
    title: str  # one line: the e-mail subject, DingTalk's title
    markdown: str  # WeCom and DingTalk group robots
    text: str  # e-mail body


def _when(value: Any, tz: tzinfo) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(value)


def render(payload: Mapping[str, Any], lang: str, tz: tzinfo, agency_names: Mapping[str, str] | None = None) -> Message:
    zh = lang == "zh"
    key = "zh" if zh else "en"
    t = payload.get("ticket") or {}
    event = str(payload.get("event", "created"))
    step = payload.get("step")
    head = EVENT_NAME[key].get(event, event)
    if event == "reminder" and step:
        head += f"（第{step}级）" if zh else f" (level {step})"
    severity, category, agency = t.get("severity", ""), t.get("category", ""), t.get("agency", "")
    sev = SEVERITY_NAME[key][Severity(severity)] if severity in _SEVERITIES else severity
    cat = CATEGORY_NAME[key][Category(category)] if category in _CATEGORIES else category
    who = (agency_names or {}).get(agency) or (AGENCY_NAME[Agency(agency)] if zh and agency in _AGENCIES else agency)
    where = (t.get("location") or {}).get("address") or t.get("district") or ""
    title = (f"【{head}】{sev} {cat} {where}" if zh else f"[{head}] {sev} {cat}, {where}").strip()[:120]
    rows = [
        ("工单" if zh else "Ticket", str(payload.get("ticket_id", ""))),
        ("紧急程度" if zh else "Severity", sev),
        ("类别" if zh else "Category", cat),
        ("责任部门" if zh else "Agency", who),
        ("地点" if zh else "Where", where),
        ("处置时限" if zh else "Due", _when(t.get("sla_due", ""), tz)),
        ("状态" if zh else "Status", str(t.get("status", ""))),
        ("摘要" if zh else "Summary", str(t.get("summary", ""))[:300]),
    ]
    plans = [f"《{c['title']}》第{c['section']}节 {c['heading']}" if zh else
             f"{c['title']}, section {c['section']}: {c['heading']}" for c in t.get("citations") or []]
    actions = [str(a) for a in (t.get("actions") or [])[:5]]
    sep = "：" if zh else ": "
    md = [f"### {title}", *(f"- **{k}**{sep}{v}" for k, v in rows if v)]
    txt = [title, "", *(f"{k}{sep}{v}" for k, v in rows if v)]
    if plans:
        label = "预案依据" if zh else "Plan sections"
        md.append(f"- **{label}**{sep}" + ("；" if zh else "; ").join(plans))
        txt.append(f"{label}{sep}" + ("；" if zh else "; ").join(plans))
    if actions:
        label = "处置建议" if zh else "Actions"
        md.append(f"\n**{label}**")
        md.extend(f"{i}. {a}" for i, a in enumerate(actions, 1))
        txt.extend(["", label, *(f"{i}. {a}" for i, a in enumerate(actions, 1))])
    if event in ("escalated", "reminder"):
        note = "请尽快在平台确认接收工单。" if zh else "Please acknowledge the ticket on the platform."
        md.append(f"\n> {note}")
        txt.extend(["", note])
    # WeCom's markdown content is capped at 4,096 bytes; keep well under it.
    markdown = "\n".join(md)
    while len(markdown.encode()) > 3800:
        md.pop()
        markdown = "\n".join(md)
    return Message(title, markdown, "\n".join(txt))
