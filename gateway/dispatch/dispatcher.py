"""The dispatch decisions, each in the caller's transaction; commands go to an outbox that the
service publishes only after the commit (never a command for a task that was rolled back)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from devices.payloads import Action
from devices.topics import Kind
from gateway.dispatch import store, verify
from gateway.dispatch.commands import CapabilityError, command_for
from gateway.dispatch.config import ROBOT_CATEGORIES, DispatchConfig
from gateway.dispatch.planner import pick_device

log = logging.getLogger(__name__)
AUTO = "policy:auto"


@dataclass(frozen=True, slots=True)
class TaskEvent:
    device_id: str
    label: str  # cmd_ack | task_progress | task_done | task_failed
    cmd_id: str
    ts: datetime
    text: str | None = None
    value: float | None = None


@dataclass
class Dispatcher:
    conn: psycopg.Connection[Any]
    config: DispatchConfig
    outbox: list[tuple[str, bytes]] = field(default_factory=list)
    waiting: set[str] = field(default_factory=set)  # tasks already noted as waiting for a device

    # -- proposals ---------------------------------------------------------------------------
    def on_ticket(self, ticket_id: str, now: datetime) -> None:
        """A new or re-triaged ticket: propose a robot once for a dispatchable category."""
        t = store.ticket_target(self.conn, ticket_id)
        if t is not None and t["category"] not in ROBOT_CATEGORIES:
            self.on_ticket_verify(ticket_id, now)
            return
        if t is None or t["category"] not in ROBOT_CATEGORIES or t["status"] == "resolved" or t["lat"] is None:
            return
        if store.task_count(self.conn, ticket_id) > 0:
            return  # re-triage of a ticket already handled: dispatch decides only once
        approved = AUTO if t["category"] in self.config.auto_categories else None
        self.propose(t, approved, now, reason="new ticket")

    def on_ticket_verify(self, ticket_id: str, now: datetime) -> None:
        """A high-severity ticket on a single source: propose a drone to look, once (auto policy)."""
        t = verify.verify_target(self.conn, ticket_id)
        if t is None or store.task_count(self.conn, ticket_id) > 0:
            return  # re-triage (e.g. the drone's own detection) of a ticket already handled
        reason = verify.why_verify(t, self.config)
        if reason is not None:
            self.propose(t, AUTO, now, reason=reason, kind=Kind.DRONE)

    def propose(self, t: dict[str, Any], approved_by: str | None, now: datetime, *, reason: str,
                kind: Kind = Kind.ROBOT) -> str | None:
        drone = kind is Kind.DRONE
        action = verify.ACTION.value if drone else ROBOT_CATEGORIES[t["category"]]
        task_id = f"tsk-{uuid.uuid4().hex[:20]}"
        deadline = now + timedelta(seconds=self.config.verify_deadline_s if drone else self.config.task_deadline_s)
        if not store.insert_task(self.conn, task_id=task_id, ticket_id=t["ticket_id"], kind=kind.value,
                                 action=action, lat=t["lat"], lon=t["lon"], deadline=deadline, now=now,
                                 approved_by=approved_by):
            return None
        pick = self._pick(t["ticket_id"], t["district"], Action(action), t["lat"], t["lon"], kind)
        store.history(self.conn, t["ticket_id"], "dispatch_proposed", {
            "task_id": task_id, "action": action, "reason": reason, "kind": kind.value,
            "policy": "auto" if approved_by == AUTO else "approval", "approved_by": approved_by,
            "device_id": pick.device_id if pick else None,
            "distance_m": round(pick.distance_m, 1) if pick else None}, now)
        return task_id

    def _pick(self, ticket_id: str, district: str | None, action: Action, lat: float, lon: float,
              kind: Kind = Kind.ROBOT) -> Any:
        # Robots drive their own district's streets; drones fly, but only so far.
        pick = pick_device(store.candidates(self.conn, kind.value), kind=kind, action=action,
                           lat=lat, lon=lon, min_battery_pct=self.config.min_battery_pct,
                           district=None if kind is Kind.DRONE else district,
                           exclude=store.tried_devices(self.conn, ticket_id))
        if pick is not None and kind is Kind.DRONE and pick.distance_m > self.config.verify_max_distance_m:
            return None
        return pick

    # -- sending -----------------------------------------------------------------------------
    def send_approved(self, now: datetime) -> None:
        for task in store.approved_proposals(self.conn):
            t = store.ticket_target(self.conn, task["ticket_id"])
            if t is None or t["status"] == "resolved":
                store.update_task(self.conn, task["task_id"], status="cancelled", updated_at=now,
                                  finished_at=now, detail="ticket resolved before dispatch")
                continue
            kind = Kind(task["kind"])
            pick = self._pick(task["ticket_id"], t["district"], Action(task["action"]), task["lat"], task["lon"],
                              kind)
            if pick is None:
                if task["task_id"] not in self.waiting:  # say it once, keep trying every tick
                    self.waiting.add(task["task_id"])
                    store.history(self.conn, task["ticket_id"], "dispatch_waiting",
                                  {"task_id": task["task_id"],
                                   "reason": f"no idle {kind.value} with enough battery"}, now)
                continue
            self.waiting.discard(task["task_id"])
            # The deadline runs from the send: a proposal may have waited for approval or a robot.
            deadline = now + timedelta(seconds=self.config.verify_deadline_s if kind is Kind.DRONE
                                       else self.config.task_deadline_s)
            sent = {**task, "device_id": pick.device_id, "district": pick.district, "kind": pick.kind.value,
                    "deadline": deadline}
            try:
                self.outbox.append(command_for(sent, now))
            except CapabilityError as err:
                store.update_task(self.conn, task["task_id"], status="failed", updated_at=now, finished_at=now,
                                  detail=str(err))
                continue
            store.update_task(self.conn, task["task_id"], status="sent", device_id=pick.device_id,
                              district=pick.district, kind=pick.kind.value, attempts=1, sent_at=now, updated_at=now,
                              deadline=deadline)
            if kind is not Kind.DRONE:  # a drone only looks: the ticket stays with its agency
                store.set_ticket(self.conn, task["ticket_id"], "assigned", now, assigned_to=pick.device_id)
            store.history(self.conn, task["ticket_id"], "dispatch_sent", {
                "task_id": task["task_id"], "device_id": pick.device_id, "action": task["action"],
                "distance_m": round(pick.distance_m, 1), "deadline": deadline.isoformat(),
                "approved_by": task["approved_by"], "attempt": 1}, now)

    # -- supervision -------------------------------------------------------------------------
    def supervise(self, now: datetime) -> None:
        """Offline devices release their task, deadlines expire, unacknowledged commands are resent."""
        for task in store.live_tasks(self.conn):
            if task["device_state"] == "offline":
                self._release(task, "failed", "device went offline", now)
            elif now >= task["deadline"]:
                self._release(task, "expired", "deadline passed", now)
            elif task["status"] == "sent" and now - task["sent_at"] >= timedelta(seconds=self.config.ack_timeout_s):
                if task["attempts"] >= self.config.max_sends:
                    self._release(task, "failed", f"no ack after {task['attempts']} sends", now)
                    continue
                self.outbox.append(command_for(task, now))
                store.update_task(self.conn, task["task_id"], attempts=task["attempts"] + 1, sent_at=now,
                                  updated_at=now)
                store.history(self.conn, task["ticket_id"], "dispatch_resent", {
                    "task_id": task["task_id"], "device_id": task["device_id"], "attempt": task["attempts"] + 1}, now)

    def _release(self, task: dict[str, Any], status: str, why: str, now: datetime) -> None:
        store.update_task(self.conn, task["task_id"], status=status, updated_at=now, finished_at=now, detail=why)
        # Best effort: if it comes back it must not carry on with a task given to another.
        with contextlib.suppress(CapabilityError, ValueError):
            self.outbox.append(command_for(task, now, action=Action.CANCEL, msg_id=f"{task['task_id']}-x"))
        store.history(self.conn, task["ticket_id"], "dispatch_released", {
            "task_id": task["task_id"], "device_id": task["device_id"], "status": status, "reason": why}, now)
        self._replan(task, now)

    def _replan(self, task: dict[str, Any], now: datetime) -> None:
        t = store.ticket_target(self.conn, task["ticket_id"])
        if t is None or t["status"] == "resolved":
            return
        drone = task["kind"] == Kind.DRONE.value
        if drone:
            vt = verify.verify_target(self.conn, task["ticket_id"])
            if vt is None or verify.why_verify(vt, self.config) is None:
                store.history(self.conn, task["ticket_id"], "verify_dropped",
                              {"task_id": task["task_id"], "reason": "no longer needs a drone's look"}, now)
                return
        if store.task_count(self.conn, task["ticket_id"]) >= self.config.max_tasks_per_ticket:
            store.history(self.conn, task["ticket_id"], "dispatch_gave_up",
                          {"reason": f"{self.config.max_tasks_per_ticket} tasks tried"}, now)
            if not drone:  # a verification never took the ticket from its agency
                store.set_ticket(self.conn, task["ticket_id"], "open", now)
            return
        self.propose(t, task["approved_by"] or AUTO, now, reason=f"reassign after {task['task_id']}",
                     kind=Kind.DRONE if drone else Kind.ROBOT)

    # -- device reports ----------------------------------------------------------------------
    def on_event(self, ev: TaskEvent, now: datetime) -> None:
        task = store.lock_task(self.conn, ev.cmd_id)
        if task is None or task["device_id"] != ev.device_id:
            log.info("task event %s for unknown task %s from %s", ev.label, ev.cmd_id, ev.device_id)
            return
        if task["status"] not in store.LIVE:
            return  # late report for a task already finished or released
        tid, ticket = task["task_id"], task["ticket_id"]
        base = {"task_id": tid, "device_id": ev.device_id, "device_ts": ev.ts.isoformat()}
        if ev.label == "cmd_ack":
            if task["status"] == "sent":
                store.update_task(self.conn, tid, status="acked", acked_at=now, updated_at=now)
                store.history(self.conn, ticket, "dispatch_acked",
                              {**base, "ack_s": round((now - task["sent_at"]).total_seconds(), 3)}, now)
        elif ev.label == "task_progress":
            store.update_task(self.conn, tid, status="in_progress", progress_pct=ev.value, updated_at=now,
                              started_at=task["started_at"] or now, acked_at=task["acked_at"] or now)
            store.history(self.conn, ticket, "dispatch_progress", {**base, "pct": ev.value, "text": ev.text}, now)
        elif task["kind"] == Kind.DRONE.value and ev.label in ("task_done", "task_failed"):
            self._verified(task, ev, base, now)
        elif ev.label == "task_done":
            store.update_task(self.conn, tid, status="done", progress_pct=100.0, updated_at=now, finished_at=now,
                              detail=ev.text)
            store.history(self.conn, ticket, "dispatch_done", {**base, "text": ev.text}, now)
            # The robot's report that the spot is clean is the fresh observation that closes it.
            if store.set_ticket(self.conn, ticket, "resolved", now) is not None:
                store.history(self.conn, ticket, "resolve", {**base, "to": "resolved", "evidence": ev.text}, now)
        elif ev.label == "task_failed":
            store.update_task(self.conn, tid, status="failed", updated_at=now, finished_at=now, detail=ev.text)
            store.history(self.conn, ticket, "dispatch_failed", {**base, "text": ev.text}, now)
            # The problem is still there: back to people, never silently closed.
            self.conn.execute("UPDATE tickets SET status = 'open', updated_at = %s, resolved_at = NULL,"
                              " resolved_by = NULL, body = body || '{\"status\": \"open\"}'::jsonb"
                              " WHERE ticket_id = %s AND status <> 'escalated'", (now, ticket))
            store.history(self.conn, ticket, "reopen", {**base, "reason": ev.text or "task failed"}, now)

    def _verified(self, task: dict[str, Any], ev: TaskEvent, base: dict[str, Any], now: datetime) -> None:
        """A drone's answer to ``inspect``: the task ends, the verdict changes the ticket (verify.py)."""
        tid, ticket = task["task_id"], task["ticket_id"]
        done = ev.label == "task_done"
        store.update_task(self.conn, tid, status="done" if done else "failed", progress_pct=100.0 if done else None,
                          updated_at=now, finished_at=now, detail=ev.text)
        store.history(self.conn, ticket, "dispatch_done" if done else "dispatch_failed",
                      {**base, "text": ev.text, "value": ev.value}, now)
        verdict = verify.verdict_of(ev.label, ev.value, ev.text, self.config.verify_confirm_threshold)
        verify.apply_verdict(self.conn, ticket, verdict, base, now)
