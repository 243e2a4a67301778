from __future__ import annotations

import pytest
from pydantic import ValidationError

from devices.payloads import Command, Event, FrameMeta, Status, Telemetry, utcnow

GOOD = b'{"ts":"2026-11-28T08:15:00+08:00","msg_id":"aq-1-42","metrics":{"pm25":35.5,"battery_pct":80}}'


def test_telemetry_valid() -> None:
    t = Telemetry.model_validate_json(GOOD, context={"kind": "sensor"})
    assert t.metrics == {"pm25": 35.5, "battery_pct": 80.0}
    assert t.ts.utcoffset() is not None


@pytest.mark.parametrize(
    "payload, kind, fragment",
    [
        (b'{"ts":"2026-11-28T08:15:00","msg_id":"a","metrics":{"pm25":1}}', "sensor", "timezone"),
        (b'{"ts":"2026-11-28T08:15:00Z","msg_id":"a","metrics":{"pm25":"1"}}', "sensor", "valid number"),
        (b'{"ts":"2026-11-28T08:15:00Z","msg_id":"a","metrics":{"pm25":NaN}}', "sensor", "finite"),
        (b'{"ts":"2026-11-28T08:15:00Z","msg_id":"a","metrics":{"brush_rpm":1}}', "sensor", "unknown metric"),
        (b'{"ts":"2026-11-28T08:15:00Z","msg_id":"a","metrics":{}}', "sensor", "at least 1"),
        (b'{"ts":"2026-11-28T08:15:00Z","msg_id":"a b","metrics":{"pm25":1}}', "sensor", "msg_id"),
        (b'{"ts":"2026-11-28T08:15:00Z","metrics":{"pm25":1}}', "sensor", "msg_id"),
        (b'{"ts":"2026-11-28T08:15:00Z","msg_id":"a","metrics":{"pm25":1},"position":{"lat":91,"lon":0}}',
         "sensor", "lat"),
    ],
)
def test_telemetry_rejects(payload: bytes, kind: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        Telemetry.model_validate_json(payload, context={"kind": kind})


def test_event_labels_closed() -> None:
    ok = Event.model_validate_json(b'{"ts":"2026-11-28T08:15:00Z","msg_id":"e1","label":"spill","text":"oil"}')
    assert ok.label == "spill"
    with pytest.raises(ValidationError, match="unknown event label"):
        Event.model_validate_json(b'{"ts":"2026-11-28T08:15:00Z","msg_id":"e1","label":"party"}')


def test_status_and_command() -> None:
    s = Status.model_validate_json(b'{"ts":"2026-11-28T08:15:00Z","msg_id":"s1","state":"offline"}')
    assert s.state.value == "offline"
    with pytest.raises(ValidationError):
        Status.model_validate_json(b'{"ts":"2026-11-28T08:15:00Z","msg_id":"s1","state":"sleepy"}')
    c = Command(ts=utcnow(), msg_id="c1", action="goto")  # type: ignore[arg-type]
    assert Command.model_validate_json(c.to_json()) == c


def test_frame_meta_user_properties_round_trip() -> None:
    meta = FrameMeta(ts=utcnow(), msg_id="f1", lat=22.54, lon=114.05, alt_m=60, heading_deg=90,
                     pitch_deg=-60, hfov_deg=82)
    props = meta.to_user_properties()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in props)
    assert FrameMeta.from_user_properties(props) == meta
    with pytest.raises(ValidationError):
        FrameMeta.from_user_properties([(k, "x" if k == "lat" else v) for k, v in props])
