"""Procedural synthetic scenes with exact YOLO labels for the SPEC §3 vision labels.

``compose.render_scene`` makes one training image and ``survey.survey_scene`` one seen through a
drone camera at real object sizes; ``dataset.write_dataset`` a YOLO dataset mixing both;
``drone_view.render_frame`` what a drone camera at a given pose sees of objects placed at
known lat/lon (for end-to-end tests and the demo). ``illegal_parking`` is derived by the
platform from ``vehicle`` + zones, so it is not a detector class.
"""

from __future__ import annotations

# Class order of the urban detector (index = YOLO class id). Never reorder: weights depend on it.
CLASSES: tuple[str, ...] = (
    "fire", "smoke", "garbage", "flooding", "pothole", "fallen_tree", "debris",
    "damaged_manhole", "person_down", "crowd", "vehicle",
)
CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}
