"""The command rules every simulated field device shares (``simulators.tasks.TaskExecutor``),
without a broker: what it answers, one task at a time, deadlines, and how long a task takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citypack.cached import district as get_district
from devices.geography import LatLon, offset
from devices.payloads import Action, Command, Position
from simulators.tasks import CLEAN_S, DRIVE_SPEED_M_S, Report, TaskExecutor, grid_route

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
GRID = get_district("futian").grid
START = GRID.position((0, 0))
GOAL = offset(START.lat, START.lon, 500.0 + 40.0, 250.0)  # 3 blocks away, 40 m past a corner


def _robot() -> TaskExecutor:
    return TaskExecutor(frozenset({Action.GOTO, Action.CLEAN}), DRIVE_SPEED_M_S,
                        lambda a, b: grid_route(GRID, a, b), lambda a: CLEAN_S if a is Action.CLEAN else 0.0)


def _cmd(cid: str, action: Action = Action.CLEAN, goal: LatLon | None = GOAL,
         deadline: datetime | None = None) -> Command:
    return Command(ts=NOW, msg_id=cid, action=action, deadline=deadline,
                   position=Position(lat=goal.lat, lon=goal.lon) if goal is not None else None)


def _labels(reports: list[Report]) -> list[tuple[str, str]]:
    return [(r.label, r.cmd_id) for r in reports]


def test_refuses_what_the_device_cannot_do_and_commands_without_a_place() -> None:
    ex = _robot()
    [r] = ex.receive(_cmd("c1", Action.INSPECT), START, NOW)
    assert (r.label, r.cmd_id) == ("task_failed", "c1") and "inspect" in (r.text or "")
    [r] = ex.receive(_cmd("c2", Action.GOTO, goal=None), START, NOW)
    assert r.label == "task_failed" and "position" in (r.text or "")
    [r] = ex.receive(_cmd("c3"), START, NOW, unable="charging at the depot")
    assert r.label == "task_failed" and r.text == "charging at the depot"
    assert not ex.busy


def test_one_task_at_a_time_resends_are_acked_again_and_cancel_drops_the_task() -> None:
    ex = _robot()
    assert _labels(ex.receive(_cmd("c1"), START, NOW)) == [("cmd_ack", "c1")]
    task = ex.task
    [r] = ex.receive(_cmd("c2"), START, NOW)
    assert r.label == "task_failed" and r.cmd_id == "c2" and r.text == "busy with c1"
    assert _labels(ex.receive(_cmd("c1"), START, NOW)) == [("cmd_ack", "c1")]  # QoS 1 / platform resend
    assert ex.task is task  # not restarted
    assert _labels(ex.receive(_cmd("c1-x", Action.CANCEL, goal=None), START, NOW)) == [("cmd_ack", "c1-x")]
    assert not ex.busy
    assert _labels(ex.receive(_cmd("c3"), START, NOW)) == [("cmd_ack", "c3")]  # free again


def test_deadlines_refuse_late_commands_and_fail_tasks_that_run_over() -> None:
    ex = _robot()
    [r] = ex.receive(_cmd("late", deadline=NOW - timedelta(seconds=1)), START, NOW)
    assert r.label == "task_failed" and "deadline" in (r.text or "") and not ex.busy
    assert _labels(ex.receive(_cmd("c1", deadline=NOW + timedelta(seconds=60)), START, NOW)) == [("cmd_ack", "c1")]
    reports, done = ex.advance(30.0, NOW + timedelta(seconds=30))
    assert done is None and ex.busy
    reports, done = ex.advance(31.0, NOW + timedelta(seconds=61))
    assert _labels(reports) == [("task_failed", "c1")] and done is None and not ex.busy


def test_arrives_after_route_length_over_speed_then_works_then_finishes_once() -> None:
    ex = _robot()
    ex.receive(_cmd("c1"), START, NOW)
    assert ex.task is not None
    length = ex.task.length_m
    assert 785.0 < length < 795.0  # 750 m along the streets (L-shaped) + 40 m off the last corner
    t, dt = 0.0, 0.5
    progress: list[float | None] = []
    arrived_at: float | None = None
    finished = []
    while ex.busy and t < 2000:
        reports, done = ex.advance(dt, NOW + timedelta(seconds=t))
        t += dt
        progress += [r.value for r in reports if r.label == "task_progress"]
        if arrived_at is None and ex.task is not None and ex.task.arrived:
            arrived_at = t
        if done is not None:
            finished.append((t, done))
    assert arrived_at is not None and abs(arrived_at - length / DRIVE_SPEED_M_S) <= dt
    assert progress == [25.0, 50.0, 75.0]
    [(t_done, task)] = finished
    assert task.cmd_id == "c1" and task.position() == GOAL
    assert abs(t_done - (length / DRIVE_SPEED_M_S + CLEAN_S)) <= 2 * dt


def test_return_home_goes_home_whatever_the_position_says() -> None:
    ex = TaskExecutor(frozenset({Action.RETURN_HOME}), 10.0, lambda a, b: [a, b], lambda a: 0.0)
    home = offset(START.lat, START.lon, -300.0, 0.0)
    assert _labels(ex.receive(_cmd("h1", Action.RETURN_HOME, goal=None), START, NOW, home=home)) == [
        ("cmd_ack", "h1")]
    assert ex.task is not None and ex.task.route[-1] == home
    _, done = ex.advance(31.0, NOW)
    assert done is not None and done.position() == home
