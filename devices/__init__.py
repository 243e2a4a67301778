"""The device contract: MQTT topics, payload models and the ROS 2 codec (SPEC §2)."""
