"""The city's escalation ladder: reminders while a ticket stays unacknowledged past its SLA.

Step N of ``city.yaml``'s ``escalation`` fires once per ticket, ``after`` past the SLA, while the
ticket is still ``open`` or ``escalated``: a ``remind`` row in the ticket's history (who was told
and why, visible to everyone), which the delivery loop turns into messages to the agencies the
step names (``duty_office``: the ticket's own agency). Acknowledging stops the ladder; a
reminder still queued then is cancelled, not sent. A step more than ``window`` late (a gateway
starting on old tickets) is skipped, so a restart does not flood group chats.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from citypack.config import LadderStep

LADDER_SQL = """
INSERT INTO ticket_history (ticket_id, ts, actor, action, details)
SELECT t.ticket_id, %(now)s, 'system', 'remind', %(details)s
FROM tickets t
WHERE t.status IN ('open', 'escalated')
  AND t.sla_due + %(after)s <= %(now)s
  AND t.sla_due + %(after)s > %(now)s - %(window)s
  AND NOT EXISTS (SELECT 1 FROM ticket_history h WHERE h.ticket_id = t.ticket_id AND h.action = 'remind'
                  AND h.details ->> 'step' = %(step)s::text)
"""


def _words(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def climb(conn: psycopg.Connection[Any], steps: list[LadderStep], now: datetime, window: timedelta) -> int:
    """Write the reminders now due; how many."""
    n = 0
    for i, step in enumerate(steps, 1):
        details = {"step": i, "after": _words(step.after), "notify": [str(x) for x in step.notify],
                   "reason": f"not acknowledged {_words(step.after)} after the SLA"}
        n += max(conn.execute(LADDER_SQL, {"now": now, "after": step.after, "window": window, "step": i,
                                           "details": Jsonb(details)}).rowcount, 0)
    return n
