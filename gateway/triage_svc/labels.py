"""Labels the city gives back: tickets people corrected or resolved, as training records.

A manager's override of category, severity or agency is the strongest label there is: it is
weighted ``OVERRIDE_WEIGHT`` times an ordinary corpus record, and the trainer relabels the
corpus reports that read like a group of overrides (``triage.learned.city_policy``), so a few
dozen corrections of one systematic error outweigh the corpus where it was wrong (measured
with the 6,171-report corpus: 30 overrides moved 5 of 10 new reports at weight 50 or 100
alone, 8 with the relabelling, while other noise kept its agency). The price: a careless
override weighs as much, which is why promotion checks the frozen holdout. A resolved ticket nobody
corrected counts once. The incident is the one triage saw (``incidents.body``).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

OVERRIDE_WEIGHT = 50.0

LABELLED = """
SELECT t.ticket_id, i.body AS incident, t.category, t.severity, t.agency, t.overrides, t.status
FROM tickets t JOIN incidents i USING (incident_id)
WHERE t.overrides ?| array['category', 'severity', 'agency'] OR t.status = 'resolved'
ORDER BY t.ticket_id
"""


def labelled_from_db(database_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = conn.execute(LABELLED).fetchall()
    records = []
    for row in rows:
        incident = dict(row["incident"])
        corrected = bool(set(row["overrides"]) & {"category", "severity", "agency"})
        incident.update({
            "incident_id": f"db-{row['ticket_id']}",
            "expected": {"category": row["category"], "severity": row["severity"], "agency": row["agency"]},
            "weight": OVERRIDE_WEIGHT if corrected else 1.0,
            "meta": {"writer": "city", "kind": "override" if corrected else "resolved",
                     "fields": sorted(set(row["overrides"]) & {"category", "severity", "agency"})},
        })
        records.append(incident)
    return records


SHADOW_VS_LIVE = """
WITH confirmed AS (
    SELECT ticket_id, category, severity, agency FROM tickets
    WHERE overrides ?| array['category', 'severity', 'agency'] OR status = 'resolved'),
latest AS (
    SELECT DISTINCT ON (ticket_id, backend = 'shadow') ticket_id, backend = 'shadow' AS shadow,
           record -> 'ticket' AS ticket
    FROM triage_audit WHERE ticket_id IN (SELECT ticket_id FROM confirmed)
    ORDER BY ticket_id, backend = 'shadow', ts DESC)
SELECT l.shadow,
       count(*) AS n,
       count(*) FILTER (WHERE l.ticket ->> 'category' = c.category AND l.ticket ->> 'agency' = c.agency
                        AND l.ticket ->> 'severity' = c.severity) AS right
FROM latest l JOIN confirmed c USING (ticket_id)
WHERE l.ticket_id IN (SELECT ticket_id FROM triage_audit WHERE backend = 'shadow')
GROUP BY l.shadow
"""


def shadow_agreement(database_url: str) -> dict[str, dict[str, int]]:
    """On tickets people confirmed, how often the shadow model and the live one were right."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = conn.execute(SHADOW_VS_LIVE).fetchall()
    return {("shadow" if r["shadow"] else "live"): {"n": r["n"], "right": r["right"]} for r in rows}
