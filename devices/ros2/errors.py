"""Typed errors of the ROS 2 layer."""

from __future__ import annotations


class Ros2Error(ValueError):
    """Base class of everything the ROS 2 layer refuses."""


class TypestoreError(Ros2Error):
    """A distro name, ``.msg`` file or embedded definition that cannot be used."""


class Ros2DecodeError(Ros2Error):
    """Bytes that cannot become platform data: the gateway dead-letters them.

    ``reason`` is the dead-letter text a person reads; ``ros_type`` the type it claimed.
    """

    def __init__(self, reason: str, ros_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ros_type = ros_type
