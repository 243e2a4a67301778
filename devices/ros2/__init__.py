"""ROS 2 support: typestores, CDR → platform mapping, images, and rosbag2 reading.

The gateway's entry point is ``Ros2Mapper`` (``devices.ros2.mapping``).
"""

from devices.ros2.errors import Ros2DecodeError, Ros2Error, TypestoreError
from devices.ros2.mapping import Ros2Mapper
from devices.ros2.results import CameraDefaults, PositionFix, RawRos2, Ros2Mapped
from devices.ros2.typestore import make_typestore

__all__ = [
    "CameraDefaults", "PositionFix", "RawRos2", "Ros2DecodeError", "Ros2Error", "Ros2Mapped",
    "Ros2Mapper", "TypestoreError", "make_typestore",
]
