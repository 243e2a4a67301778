"""The ingest router on its own: good messages become rows, bad ones dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from gateway.ingest.bus import AckToken, Inbound
from gateway.ingest.pipeline import IngestLimits, Ingestor
from gateway.store.batch import Batch

NOW = datetime.now(UTC).replace(microsecond=0)
TOPIC = "city/futian/sensor/aq-0001/telemetry"


def msg(topic: str, payload: bytes | str, props: list[tuple[str, str]] | None = None) -> Inbound:
    data = payload.encode() if isinstance(payload, str) else payload
    return Inbound(topic, data, props or [], NOW, AckToken(1, 1, 1))


def tele(metrics: dict[str, object], msg_id: str = "m1", ts: str | None = None) -> str:
    return json.dumps({"ts": ts or NOW.isoformat(), "msg_id": msg_id, "metrics": metrics})


def test_telemetry_rows_and_registry() -> None:
    ing, batch = Ingestor(IngestLimits()), Batch()
    payload = json.dumps({"ts": NOW.isoformat(), "msg_id": "m1", "metrics": {"pm25": 12.0, "no2": 40.0},
                          "position": {"lat": 22.54, "lon": 114.05}})
    ing.handle(msg(TOPIC, payload), batch)
    assert [(r[1], r[2], r[3]) for r in batch.telemetry] == [("aq-0001", "pm25", 12.0), ("aq-0001", "no2", 40.0)]
    assert batch.positions[0][2:4] == (22.54, 114.05)
    assert not batch.dead_letters
    assert len(batch.acks) == 1
    dev = ing.take_device_updates()["aq-0001"]
    assert (dev.district, dev.kind, dev.lat) == ("futian", "sensor", 22.54)


def test_status_position_places_a_fixed_sensor() -> None:
    # Fixed sensors say where they stand only in their retained status; their threshold
    # crossings need that position to be dispatched or verified.
    ing, batch = Ingestor(IngestLimits()), Batch()
    payload = json.dumps({"ts": NOW.isoformat(), "msg_id": "s1", "state": "online", "battery_pct": 80.0,
                          "position": {"lat": 22.531, "lon": 114.052}})
    ing.handle(msg("city/futian/sensor/aq-0001/status", payload), batch)
    assert [(r[1], r[2], r[3]) for r in batch.positions] == [("aq-0001", 22.531, 114.052)]
    assert batch.statuses[0][3] == "online"
    dev = ing.take_device_updates()["aq-0001"]
    assert (dev.lat, dev.lon) == (22.531, 114.052)


def test_redelivery_is_skipped_but_acked() -> None:
    ing, batch = Ingestor(IngestLimits()), Batch()
    ing.handle(msg(TOPIC, tele({"pm25": 1.0})), batch)
    ing.handle(msg(TOPIC, tele({"pm25": 1.0})), batch)
    assert len(batch.telemetry) == 1
    assert len(batch.acks) == 2
    assert ing.counters.duplicates == 1


def test_clock_skew_is_kept_and_flagged() -> None:
    ing, batch = Ingestor(IngestLimits(max_clock_skew_s=300)), Batch()
    skewed = (NOW - timedelta(minutes=20)).isoformat()
    ing.handle(msg(TOPIC, tele({"pm25": 1.0}, ts=skewed)), batch)
    assert len(batch.telemetry) == 1
    assert batch.telemetry[0][0] != batch.telemetry[0][5]  # device time and receive time both kept
    assert ing.counters.clock_skewed == 1
    assert ing.take_device_updates()["aq-0001"].clock_skew_s == pytest.approx(-1200)


def test_implausible_value_stored_and_flagged() -> None:
    ing, batch = Ingestor(IngestLimits()), Batch()
    ing.handle(msg(TOPIC, tele({"humidity_pct": 140.0})), batch)
    assert len(batch.telemetry) == 1
    assert [e[6] for e in batch.events] == ["implausible_value"]


FAR_FUTURE = (NOW + timedelta(days=30)).isoformat()
JPEG_PROPS = [("ts", NOW.isoformat()), ("msg_id", "f1"), ("lat", "22.5"), ("lon", "114.0"), ("alt_m", "50"),
              ("heading_deg", "10"), ("pitch_deg", "-60"), ("hfov_deg", "80")]
# A JPEG header claiming 60000 x 60000 pixels: a decompression bomb.
BOMB = (b"\xff\xd8\xff\xc0\x00\x11\x08" + (60000).to_bytes(2, "big") + (60000).to_bytes(2, "big")
        + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9")

MALFORMED = [
    ("bad json", TOPIC, b'{"ts": "2026-11-28T08:00:00Z", "msg_id": ', None, "bad json"),
    ("not json at all", TOPIC, b"\x00\x01\x02binary", None, "bad json"),
    ("wrong type", TOPIC, tele({"pm25": "high"}), None, "invalid"),
    ("NaN", TOPIC, b'{"ts":"2026-11-28T08:00:00Z","msg_id":"n","metrics":{"pm25":NaN}}', None, "invalid"),
    ("Infinity", TOPIC, b'{"ts":"2026-11-28T08:00:00Z","msg_id":"n","metrics":{"pm25":Infinity}}', None,
     "invalid"),
    ("huge payload", TOPIC, tele({"pm25": 1.0}, msg_id="x" * 10) + " " * 70_000, None, "oversized"),
    ("unknown metric", TOPIC, tele({"happiness": 3.0}), None, "invalid"),
    ("metric of another kind", TOPIC, tele({"brush_rpm": 3.0}), None, "invalid"),
    ("missing msg_id", TOPIC, json.dumps({"ts": NOW.isoformat(), "metrics": {"pm25": 1}}), None, "invalid"),
    ("naive timestamp", TOPIC, tele({"pm25": 1.0}, ts="2026-11-28T08:00:00"), None, "invalid"),
    ("far future", TOPIC, tele({"pm25": 1.0}, ts=FAR_FUTURE), None, "timestamp"),
    ("ancient", TOPIC, tele({"pm25": 1.0}, ts="1999-01-01T00:00:00Z"), None, "timestamp"),
    ("bad topic", "city/futian/sensor/telemetry", tele({"pm25": 1.0}), None, "bad topic"),
    ("bad device id", "city/futian/sensor/AQ 01/telemetry", tele({"pm25": 1.0}), None, "bad topic"),
    ("sql in device id", "city/futian/sensor/x';drop table telemetry;--/telemetry", tele({"pm25": 1.0}), None,
     "bad topic"),
    ("over-long device id", f"city/futian/sensor/{'a' * 200}/telemetry", tele({"pm25": 1.0}), None, "bad topic"),
    ("unknown channel", "city/futian/sensor/aq-0001/gossip", b"{}", None, "bad topic"),
    ("tickets topic of a device", "city/futian/sensor/aq-0001/tickets", b"{}", None, "bad topic"),
    ("outside the contract", "city/futian/weather", b"{}", None, "bad topic"),
    ("unknown event label", "city/futian/robot/robot-01/event",
     json.dumps({"ts": NOW.isoformat(), "msg_id": "e", "label": "dance"}), None, "invalid"),
    ("bad status", "city/futian/robot/robot-01/status",
     json.dumps({"ts": NOW.isoformat(), "msg_id": "s", "state": "asleep"}), None, "invalid"),
    ("non-image frame", "city/futian/drone/drone-01/frame", b"GIF89a....", JPEG_PROPS, "bad frame"),
    ("jpeg bomb", "city/futian/drone/drone-01/frame", BOMB, JPEG_PROPS, "bad frame"),
    ("frame without metadata", "city/futian/drone/drone-01/frame", b"\xff\xd8\xff\xd9", [], "frame metadata"),
    ("json array", TOPIC, b"[1,2,3]", None, "invalid"),
]


@pytest.mark.parametrize("name, topic, payload, props, reason", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_is_dead_lettered(name: str, topic: str, payload: bytes | str,
                                    props: list[tuple[str, str]] | None, reason: str) -> None:
    ing, batch = Ingestor(IngestLimits()), Batch()
    ing.handle(msg(topic, payload, props), batch)
    assert not batch.telemetry
    assert len(batch.dead_letters) == 1, name
    received, dl_topic, dl_reason, size, excerpt_, _ = batch.dead_letters[0]
    assert received == NOW and dl_topic == topic[:512]
    assert dl_reason.startswith(reason), dl_reason
    assert size == len(payload.encode() if isinstance(payload, str) else payload)
    assert len(excerpt_) <= 512 and "\x00" not in excerpt_
    assert len(batch.acks) == 1  # refused messages are acknowledged: redelivery would not help


def test_device_identity_is_fixed() -> None:
    ing, batch = Ingestor(IngestLimits()), Batch()
    ing.handle(msg(TOPIC, tele({"pm25": 1.0})), batch)
    ing.handle(msg("city/nanshan/sensor/aq-0001/telemetry", tele({"pm25": 1.0}, msg_id="m2")), batch)
    assert batch.dead_letters[0][2].startswith("device identity")


def test_own_commands_and_tickets_are_not_input() -> None:
    ing, batch = Ingestor(IngestLimits()), Batch()
    ing.handle(msg("city/futian/robot/robot-01/cmd", b'{"action":"goto"}'), batch)
    ing.handle(msg("city/futian/tickets", b'{"ticket_id":"t1"}'), batch)
    assert not batch.dead_letters and not batch.telemetry
    assert ing.counters.outbound_ignored == 2
    assert len(batch.acks) == 2
