"""Dispatch settings. The runtime fills this from ``Settings`` (``URBANOPS_DISPATCH_*``);
the defaults are what a city would start with."""

from __future__ import annotations

from dataclasses import dataclass

# Ticket categories a cleaning robot can act on, and what it is told to do.
ROBOT_CATEGORIES: dict[str, str] = {"sanitation": "clean"}


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    # Categories dispatched without a person; the others wait for POST .../tickets/{id}/dispatch.
    auto_categories: frozenset[str] = frozenset({"sanitation"})
    min_battery_pct: float = 30.0  # a robot below this is not sent (it must still get home)
    ack_timeout_s: float = 10.0  # resend the command when no cmd_ack came within this
    max_sends: int = 3  # sends of one command before the device is given up on
    task_deadline_s: float = 1800.0  # a task not done by then expires and another device is tried
    max_tasks_per_ticket: int = 4  # devices tried for one ticket before leaving it to people
    tick_s: float = 0.25  # how often the loop checks timeouts, approvals and offline devices
    # Drone verification of single-source high-severity tickets (gateway/dispatch/verify.py).
    verify_enabled: bool = True
    verify_min_severity: str = "high"  # high or critical tickets are checked
    verify_max_distance_m: float = 5000.0  # no drone further than this is sent
    verify_deadline_s: float = 600.0  # fly, hover, look and answer within this
    verify_confirm_threshold: float = 0.5  # task_done value at or above: confirmed; below: not seen
