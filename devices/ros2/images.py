"""``sensor_msgs/CompressedImage`` and ``sensor_msgs/Image`` → JPEG bytes for vision.

- CompressedImage whose ``format`` names JPEG: the bytes pass through unchanged (after a
  check that they start like a JPEG). Other formats (png, compressedDepth, ...) return
  ``None``: the platform's frame contract is JPEG and the gateway does not decode PNG, so
  the message is kept raw instead.
- Image with encoding rgb8, bgr8, rgba8, bgra8, mono8 or mono16: converted to RGB/gray
  NumPy and encoded with the built-in NumPy JPEG encoder (``devices.ros2.jpeg``; no OpenCV
  needed). Other encodings (Bayer, depth 16UC1/32FC1, YUV) return ``None`` → kept raw.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from devices.ros2.errors import Ros2DecodeError
from devices.ros2.jpeg import encode_jpeg

JPEG_QUALITY = 85
_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "mono16": 1}


def _as_bytes(data: Any) -> bytes:
    return data.tobytes() if isinstance(data, np.ndarray) else bytes(data)


def compressed_to_jpeg(msg: Any, ros_type: str) -> bytes | None:
    fmt = str(msg.format).lower()
    data = _as_bytes(msg.data)
    if "jpeg" not in fmt and "jpg" not in fmt:
        return None
    if data[:2] != b"\xff\xd8":
        raise Ros2DecodeError(f"{ros_type} says {fmt!r} but its data is not a JPEG", ros_type)
    return data


def image_pixels(msg: Any, ros_type: str) -> npt.NDArray[np.uint8] | None:
    """The image as ``HxW`` gray or ``HxWx3`` RGB uint8, or ``None`` for other encodings."""
    encoding = str(msg.encoding).lower()
    channels = _CHANNELS.get(encoding)
    if channels is None:
        return None
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    depth = 2 if encoding == "mono16" else 1
    data = _as_bytes(msg.data)
    if height <= 0 or width <= 0 or step < width * channels * depth or len(data) < step * height:
        raise Ros2DecodeError(
            f"{ros_type} {width}x{height} {encoding} step {step} does not fit {len(data)} bytes",
            ros_type,
        )
    rows = np.frombuffer(data, dtype=np.uint8, count=step * height).reshape(height, step)
    if depth == 2:
        dtype = ">u2" if msg.is_bigendian else "<u2"
        gray16 = rows[:, : width * 2].copy().view(dtype)
        return (gray16 >> 8).astype(np.uint8)
    px = rows[:, : width * channels].reshape(height, width, channels)
    if channels == 1:
        return np.ascontiguousarray(px[..., 0])
    if encoding.startswith("bgr"):
        px = px[..., 2::-1]
    return np.ascontiguousarray(px[..., :3])


def image_to_jpeg(msg: Any, ros_type: str, quality: int = JPEG_QUALITY) -> bytes | None:
    pixels = image_pixels(msg, ros_type)
    return None if pixels is None else encode_jpeg(pixels, quality)
