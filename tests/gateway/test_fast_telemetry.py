"""The fast telemetry decoder agrees with the pydantic model it stands in for.

Whatever it accepts the model accepts, with the same values; whatever the model refuses it
leaves to the model (returns None), so the Ingestor's rows and dead-letter reasons are the
same with and without it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from devices.metrics import METRICS_BY_KIND
from devices.payloads import Telemetry
from devices.topics import Kind
from gateway.ingest.bus import AckToken, Inbound
from gateway.ingest.fast_telemetry import TelemetryDecoder
from gateway.ingest.pipeline import IngestLimits, Ingestor
from gateway.store.batch import Batch
from tests.gateway.test_ingest_unit import MALFORMED
from tests.hardening.fuzzing import FUZZ, dumps, json_values

NOW = datetime.now(UTC)
SENSOR = METRICS_BY_KIND[Kind.SENSOR]
T0 = '"ts":"2026-11-28T08:00:00Z","msg_id":"a"'

VALID = [
    b'{%s,"metrics":{"pm25":1}}' % T0.encode(),
    b'{"ts":"2026-12-02T07:50:00.123456+00:00","msg_id":"12345","metrics":{"pm25":10.5,"no2":3}}',
    b'{"ts":"2026-12-02T07:50:00.5+08:00","msg_id":"x.y:z_-1","metrics":{"pm25":-0.0}}',
    b' {%s,"metrics":{"pm25":1E+2},"position":{"lat":22.5,"lon":114,"alt_m":null},"extra":[1,{"a":null}]}\n'
    % T0.encode(),
    b'{%s,"metrics":{"pm25":1,"pm25":2}}' % T0.encode(),  # duplicate keys: the last wins in both
    b'{%s,"metrics":{"pm\\u0032\\u0035":1},"x":"\\ud83d\\ude00\\/"}' % T0.encode(),
    b'{%s,"metrics":{"pm25":1},"metrics":{"no2":2}}' % T0.encode(),
    b'{%s,"metrics":{"pm25":100000000000000000000000000000000000},"x":1e999999}' % T0.encode(),
    b'{%s,"metrics":{"pm25":1},"position":null}' % T0.encode(),
]
REFUSED = [
    b'{%s,"metrics":{"pm25":1},"x":"\xff"}' % T0.encode(),  # msgspec would skip the bad UTF-8
    b'{%s,"metrics":{"pm25":1},"x":%s}' % (T0.encode(), b"[" * 201 + b"]" * 201),  # too deep for jiter
    b'{%s,"metrics":{"pm25":1e400}}' % T0.encode(),
    b'{%s,"metrics":{"pm25":true}}' % T0.encode(),
    b'{%s,"metrics":{}}' % T0.encode(),
    b'{%s,"metrics":{"brush_rpm":1}}' % T0.encode(),
    b'{"ts":"2026-11-28T08:00:00","msg_id":"a","metrics":{"pm25":1}}',
    b'{"ts":"2026-11-28T08:00:00Z","msg_id":"a\\n","metrics":{"pm25":1}}',
    b'{"ts":"2026-11-28T08:00:00Z","msg_id":"","metrics":{"pm25":1}}',
    b'{"ts":"2026-11-28T08:00:00Z","msg_id":"%s","metrics":{"pm25":1}}' % (b"a" * 65),
    b'{%s,"metrics":{"pm25":1},"position":{"lat":91,"lon":0}}' % T0.encode(),
    b'{%s,"metrics":{"pm25":1},"position":{"lat":1,"lon":0,"alt_m":-501}}' % T0.encode(),
    b'{%s,"metrics":{"pm25":1},"position":{"lat":1}}' % T0.encode(),
    b'{%s,"metrics":{"pm25":1}}x' % T0.encode(),
    b"[1,2,3]",
]


def model(payload: bytes, kind: str = "sensor") -> Telemetry | None:
    try:
        return Telemetry.model_validate_json(payload, context={"kind": kind})
    except ValueError:
        return None


def assert_agrees(payload: bytes, kind: Kind = Kind.SENSOR) -> bool:
    """True when the fast path took the message; fails if it took one the model would not."""
    fast = TelemetryDecoder().decode(payload, METRICS_BY_KIND[kind])
    if fast is None:
        return False
    slow = model(payload, kind.value)
    assert slow is not None, f"fast path accepted what the model refuses: {payload[:200]!r}"
    assert (fast.ts, fast.ts.utcoffset(), fast.msg_id) == (slow.ts, slow.ts.utcoffset(), slow.msg_id)
    assert list(fast.metrics.items()) == list(slow.metrics.items())
    fp, sp = fast.position, slow.position
    assert (fp is None) == (sp is None)
    if fp is not None and sp is not None:
        assert (fp.lat, fp.lon, fp.alt_m) == (sp.lat, sp.lon, sp.alt_m)
    return True


@pytest.mark.parametrize("payload", VALID)
def test_fast_path_takes_ordinary_telemetry_with_the_models_values(payload: bytes) -> None:
    assert model(payload) is not None
    assert assert_agrees(payload)


@pytest.mark.parametrize("payload", REFUSED)
def test_fast_path_leaves_what_the_model_refuses_to_the_model(payload: bytes) -> None:
    assert model(payload) is None
    assert TelemetryDecoder().decode(payload, SENSOR) is None


timestamps = st.one_of(
    st.builds(lambda s, fmt: fmt(NOW + timedelta(microseconds=s)), st.integers(-10**13, 10**12),
              st.sampled_from([lambda d: d.isoformat(), lambda d: d.isoformat().replace("+00:00", "Z"),
                               lambda d: d.astimezone(datetime.now().astimezone().tzinfo).isoformat(),
                               lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                               lambda d: d.replace(tzinfo=None).isoformat()])),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt _][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{0,9})?)?"
                  r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?\Z"),
    st.text(max_size=30),
)
numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr), st.integers().map(str),
                    st.from_regex(r"\A-?[0-9]{1,400}(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?\Z"),
                    st.sampled_from(["1e308", "1.8e308", "-0", "0e0", "true", '"1"', "null", "[1]"]))
metric_names = st.sampled_from(sorted(SENSOR | {"brush_rpm", "pm\\u0032\\u0035", "PM25", ""}))
msg_ids = st.from_regex(r"\A[A-Za-z0-9_.:-]{1,64}\Z") | st.text(max_size=70).map(lambda s: json.dumps(s)[1:-1])


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """Telemetry as text, so numbers, timestamps and escapes arrive as devices write them."""
    fields = [f'"ts":{json.dumps(draw(timestamps))}', f'"msg_id":"{draw(msg_ids)}"']
    metrics = draw(st.lists(st.tuples(metric_names, numbers), max_size=66))
    if draw(st.integers(0, 9)) or not metrics:
        fields.append('"metrics":{' + ",".join(f'"{k}":{v}' for k, v in metrics) + "}")
    if draw(st.booleans()):
        coords = draw(st.lists(st.tuples(st.sampled_from(["lat", "lon", "alt_m"]), numbers), max_size=4))
        fields.append('"position":{' + ",".join(f'"{k}":{v}' for k, v in coords) + "}")
    for _ in range(draw(st.integers(0, 2))):
        fields.append(f'"{draw(st.sampled_from(["x", "ts", "msg_id", "metrics", "position"]))}":'
                      + dumps(draw(json_values)).decode("utf-8", "surrogatepass"))
    draw(st.randoms()).shuffle(fields)
    text = "{" + ",".join(fields) + "}"
    raw = text.encode("utf-8", "surrogatepass")
    cut = draw(st.sampled_from([None, None, None, -1, 10]))
    return raw[:cut] if cut else raw


@FUZZ
@given(payloads(), st.sampled_from(list(Kind)))
@example(b'{"ts":"2026-11-28T08:00:60Z","msg_id":"a","metrics":{"pm25":1}}', Kind.SENSOR)
@example(b'{"ts":"2026-11-28T24:00:00Z","msg_id":"a","metrics":{"pm25":1}}', Kind.SENSOR)
@example(b'{"ts":"2026-11-28T08:00:00+05:99","msg_id":"a","metrics":{"pm25":1}}', Kind.SENSOR)
@example(b'{"ts":"2026-02-30T08:00:00Z","msg_id":"a","metrics":{"pm25":1}}', Kind.SENSOR)
def test_fast_path_never_takes_what_the_model_would_not(payload: bytes, kind: Kind) -> None:
    assert_agrees(payload, kind)


def _run(ingestor: Ingestor, messages: list[tuple[str, bytes, list[tuple[str, str]]]]) -> tuple[Any, ...]:
    batch = Batch()
    for topic, payload, props in messages:
        ingestor.handle(Inbound(topic, payload, props, NOW, AckToken(1, 1, 1)), batch)
    return batch.telemetry, batch.positions, batch.events, batch.dead_letters, len(batch.acks)


def test_ingestor_rows_and_dead_letters_are_the_same_without_the_fast_path() -> None:
    ts = NOW.isoformat()
    Message = tuple[str, bytes, list[tuple[str, str]]]
    good: list[Message] = [(f"city/futian/sensor/aq-{i % 3}/telemetry",
             b'{"ts":"%s","msg_id":"m%d","metrics":{"pm25":%d.5,"humidity_pct":%d}}' % (ts.encode(), i, i, 60 + i * 30),
             []) for i in range(6)]  # humidity 120+: implausible, an event as well as a row
    malformed: list[Message] = [(str(t), p.encode() if isinstance(p, str) else p, list(props or []))  # type: ignore[misc]
                                for _, t, p, props, _ in MALFORMED]
    odd: list[Message] = [("city/futian/sensor/aq-9/telemetry", p, []) for p in VALID + REFUSED]
    messages = [*good, *good, *malformed, *odd]
    fast, slow = Ingestor(IngestLimits()), Ingestor(IngestLimits(fast_telemetry=False))
    got, want = _run(fast, messages), _run(slow, messages)
    assert got == want
    assert fast.counters == slow.counters
    assert len(got[0]) > 12 and len(got[3]) > len(MALFORMED)  # rows, dead letters
