"""The vision sink's waiting room for observations during a database outage."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gateway.store.observations import ObservationRow
from gateway.vision_link.pending import PendingObservations


def row(n: int) -> ObservationRow:
    return ObservationRow(ts=datetime(2026, 11, 28, 12, 0, n, tzinfo=UTC), observation_id=f"vis-{n}",
                          source="vision", label="garbage", lat=22.54, lon=114.05, evidence_path=f"e/{n}.jpg")


def test_journal_survives_a_restart_and_skips_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "vision-pending.jsonl"
    first = PendingObservations(path)
    first.add([row(1), row(2)])
    first.add([row(3)])
    with path.open("a") as fh:
        fh.write('{"ts": "2026-11-28T12:00:04Z", "observation_id": "vis-')  # a crash mid-write
    again = PendingObservations(path)
    assert again.load() == 3
    assert [r.observation_id for r in again.rows] == ["vis-1", "vis-2", "vis-3"]
    assert again.rows[0] == row(1)
    again.clear()
    assert not path.exists() and len(again) == 0
    assert PendingObservations(path).load() == 0


def test_bounded_oldest_dropped_and_counted(tmp_path: Path) -> None:
    pending = PendingObservations(tmp_path / "p.jsonl", max_rows=3)
    pending.add([row(n) for n in range(5)])
    assert [r.observation_id for r in pending.rows] == ["vis-2", "vis-3", "vis-4"]
    assert pending.dropped == 2
