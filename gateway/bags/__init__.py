"""ROS 2 bags in and out: replay a recorded bag into the platform, export stored telemetry as a bag."""
