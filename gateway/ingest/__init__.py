"""The hot path: MQTT bus and wire codec, validation and dedupe, batches written by COPY, ROS 2 routing."""
