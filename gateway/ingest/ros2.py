"""ROS 2 CDR messages on ``.../ros2/{ros_topic}`` → ``Ros2Mapper`` → the ingest's batch.

Everything the mapper returns goes through the same ``Ingestor`` checks as JSON (time
limits, (device_id, msg_id) dedupe, device registry); undecodable bytes become dead letters.
"""

from __future__ import annotations

from devices.ros2 import Ros2DecodeError, Ros2Mapper, make_typestore
from devices.topics import Topic
from gateway.ingest.bus import Inbound
from gateway.ingest.pipeline import Ingestor, Rejected
from gateway.settings import Settings
from gateway.store.batch import Batch


class Ros2IngestRouter:
    def __init__(self, settings: Settings) -> None:
        # One mapper per process: it keeps each device's last known pose for its frames.
        self.mapper = Ros2Mapper(make_typestore(settings.ros2_distro))

    def route(self, topic: Topic, msg: Inbound, batch: Batch, ingestor: Ingestor) -> None:
        try:
            out = self.mapper.map_mqtt(topic, msg.payload, msg.user_properties, msg.received_at)
        except Ros2DecodeError as err:
            raise Rejected(f"ros2: {err.reason}", topic.device_id) from err
        at = msg.received_at
        if out.telemetry is not None:
            ingestor.add_telemetry(topic, out.telemetry, at, batch)
        if out.position is not None:
            fix = out.position
            ingestor.add_position(topic, fix.ts, fix.msg_id, fix.position, at, batch)
        for event in out.events:
            ingestor.add_event(topic, event, at, batch)
        if out.status is not None:
            ingestor.add_status(topic, out.status, at, batch)
        for meta, jpeg in out.frames:
            ingestor.add_frame(topic, meta, jpeg, at)
        if out.raw is not None:
            raw = out.raw
            ingestor.add_raw_ros2(topic, raw.ts, raw.msg_id, raw.ros_topic, raw.ros_type, raw.data, at, batch)
