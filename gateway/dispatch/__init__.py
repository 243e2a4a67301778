"""Closed loop from tickets to field devices: plan, command, track, resolve."""

from gateway.dispatch.config import DispatchConfig
from gateway.dispatch.service import DispatchService

__all__ = ["DispatchConfig", "DispatchService"]
