"""Cheap checks on frame bytes before any decoder sees them (JPEG bombs, non-images)."""

from __future__ import annotations

MAX_PIXELS = 40_000_000  # ~8K x 5K; more is a decompression bomb, not a drone camera
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class FrameError(ValueError):
    """Bytes that are not an acceptable JPEG frame."""


def jpeg_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) from the JPEG's SOF header without decoding pixels."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        raise FrameError("not a JPEG (missing SOI marker)")
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise FrameError(f"corrupt JPEG: expected a marker at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > n:
            raise FrameError("corrupt JPEG: segment runs past the end")
        if marker in _SOF_MARKERS:
            if length < 7:
                raise FrameError("corrupt JPEG: short SOF segment")
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            break
        i += 2 + length
    raise FrameError("JPEG has no frame header")


def check_jpeg(data: bytes, max_bytes: int) -> tuple[int, int]:
    if len(data) > max_bytes:
        raise FrameError(f"frame of {len(data)} bytes exceeds {max_bytes}")
    width, height = jpeg_size(data)
    if width == 0 or height == 0:
        raise FrameError("JPEG with zero width or height")
    if width * height > MAX_PIXELS:
        raise FrameError(f"JPEG of {width}x{height} pixels exceeds the {MAX_PIXELS} pixel limit")
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise FrameError("truncated JPEG (missing EOI marker)")
    return width, height
