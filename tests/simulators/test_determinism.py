"""Same config and start -> byte-identical messages; rates and counts are exact."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from devices.encoding import JsonEncoder
from devices.payloads import Status
from devices.topics import Channel, Kind
from simulators.sim import FleetSim, encode_messages, generate_messages

from .fleet_util import START, small


def _wire(**kw: Any) -> list[tuple[str, bytes]]:
    msgs = generate_messages(small(**kw), START)
    return [(p.topic, p.payload) for p in encode_messages(msgs, JsonEncoder())]


def test_same_seed_and_start_give_identical_bytes() -> None:
    a, b = _wire(), _wire()
    assert a == b
    assert len(a) > 400


def test_seed_changes_contents_but_not_shape() -> None:
    a, b = _wire(), _wire(seed=8)
    assert a != b
    def telemetry_topics(w: list[tuple[str, bytes]]) -> Counter[str]:
        return Counter(t for t, _ in w if t.endswith("/telemetry"))

    assert telemetry_topics(a) == telemetry_topics(b)  # same devices, same counts


def test_a_device_stream_does_not_depend_on_the_rest_of_the_fleet() -> None:
    def stream(sensors: int) -> list[bytes]:
        msgs = generate_messages(small(sensors=sensors, robots=0, drones=0), START)
        return [m.message.to_json() for m in msgs if m.device_id == "aq-0001"]

    assert stream(3) == stream(40)


def test_run_id_comes_from_the_start_unless_given() -> None:
    ids_a = {m.message.msg_id for m in generate_messages(small(), START)}
    ids_b = {m.message.msg_id for m in generate_messages(small(), START + timedelta(seconds=1))}
    assert ids_a.isdisjoint(ids_b)  # a rerun is never deduplicated away as a repeat
    ids_c = {m.message.msg_id for m in generate_messages(small(run_id="demo"), START)}
    ids_d = {m.message.msg_id for m in
             generate_messages(small(run_id="demo"), START + timedelta(hours=1))}
    assert ids_c == ids_d


def test_msg_ids_unique_per_device_and_ts_on_the_simulated_clock() -> None:
    cfg = small(rate=3.0, duration_s=7.0)
    msgs = generate_messages(cfg, START)
    seen: dict[str, set[str]] = defaultdict(set)
    last: dict[str, object] = {}
    for m in msgs:
        ts = m.message.ts
        assert ts.tzinfo is not None and ts.utcoffset() == timedelta(0)
        assert START <= ts <= START + timedelta(seconds=cfg.duration_s)
        assert ts == START + timedelta(milliseconds=round(m.t * 1000))
        assert m.message.msg_id not in seen[m.device_id]
        assert m.message.msg_id.startswith(f"{m.device_id}-")
        seen[m.device_id].add(m.message.msg_id)
        assert last.get(m.device_id, ts) <= ts  # type: ignore[operator]
        last[m.device_id] = ts
    assert all(a.t <= b.t for a, b in itertools.pairwise(msgs))


def test_telemetry_count_is_rate_times_duration_per_device() -> None:
    cfg = small(sensors=30, robots=3, drones=2, rate=4.0, duration_s=5.0)
    sim = FleetSim(cfg, START)
    msgs = [*sim.messages(), *sim.shutdown()]
    per_dev = Counter(m.device_id for m in msgs if m.channel is Channel.TELEMETRY)
    assert len(per_dev) == cfg.devices
    assert set(per_dev.values()) == {20}
    status = [(m.device_id, m.message) for m in msgs if isinstance(m.message, Status)]
    first = {d: s.state.value for d, s in reversed(status)}
    final = {d: s.state.value for d, s in status}
    assert set(first.values()) == {"online"} and set(final.values()) == {"offline"}
    kinds = Counter(m.kind for m in msgs if m.channel is Channel.TELEMETRY)
    assert kinds == {Kind.SENSOR: 600, Kind.ROBOT: 60, Kind.DRONE: 40}


def test_fractional_rate_counts() -> None:
    cfg = small(rate=0.3, duration_s=10.0, robots=0, drones=0)
    sim = FleetSim(cfg, START)
    msgs = list(sim.messages())
    for d in sim.devices:
        n = sum(1 for m in msgs if m.device_id == d.device_id and m.channel is Channel.TELEMETRY)
        assert n == math.ceil(cfg.duration_s * cfg.rate - d.phase)
