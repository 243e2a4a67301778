"""Message definitions of the ``urbanops_msgs`` package (loaded by ``devices.ros2.typestore``)."""
