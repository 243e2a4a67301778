-- ROS 2 messages the platform keeps as bytes: types the typestore does not know, and known
-- types with nothing to map them to (std_msgs/String, rcl_interfaces/Log, ...). Kept so
-- nothing a device sent is lost; decodable later with the right definitions.
CREATE TABLE ros2_raw (
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    device_id   text NOT NULL,
    ros_topic   text NOT NULL,
    ros_type    text NOT NULL,
    msg_id      text NOT NULL,
    data        bytea NOT NULL
);
SELECT create_hypertable('ros2_raw', by_range('ts', INTERVAL '1 day'));
-- One platform message can become several ROS messages on different ROS topics, so the
-- ROS topic is part of the dedupe key; a QoS 1 redelivery inserts nothing.
CREATE UNIQUE INDEX ros2_raw_dedupe ON ros2_raw (device_id, ros_topic, ts, msg_id);
CREATE INDEX ros2_raw_type ON ros2_raw (ros_type, ts DESC);
