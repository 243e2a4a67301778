"""The NumPy JPEG encoder: decoded back by a small independent baseline decoder written
here (so the test needs no OpenCV/Pillow), and by OpenCV or Pillow when installed."""

from __future__ import annotations

import importlib.util
import io
import math

import numpy as np
import pytest

from devices.ros2.jpeg import encode_jpeg
from gateway.ingest.frames import check_jpeg


def _segments(data: bytes) -> tuple[dict[int, list[bytes]], bytes]:
    """Marker segments before the scan, and the entropy-coded scan bytes."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    segs: dict[int, list[bytes]] = {}
    i = 2
    while True:
        assert data[i] == 0xFF
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        body = data[i + 4:i + 2 + length]
        segs.setdefault(marker, []).append(body)
        i += 2 + length
        if marker == 0xDA:
            return segs, data[i:-2]


def _huffman(body: bytes) -> dict[tuple[int, int], dict[tuple[int, int], int]]:
    tables = {}
    i = 0
    while i < len(body):
        cls, tid = body[i] >> 4, body[i] & 15
        counts = body[i + 1:i + 17]
        values = body[i + 17:i + 17 + sum(counts)]
        table, code, k = {}, 0, 0
        for length in range(1, 17):
            for _ in range(counts[length - 1]):
                table[(length, code)] = values[k]
                code, k = code + 1, k + 1
            code <<= 1
        tables[(cls, tid)] = table
        i += 17 + sum(counts)
    return tables


def decode(data: bytes) -> np.ndarray:
    """Baseline, 4:4:4 JPEG → uint8 pixels (gray or RGB), straight from ITU T.81."""
    segs, scan = _segments(data)
    sof = segs[0xC0][0]
    h, w, ncomp = int.from_bytes(sof[1:3], "big"), int.from_bytes(sof[3:5], "big"), sof[5]
    qsel = [sof[6 + 3 * c + 2] for c in range(ncomp)]
    quant = {body[0] & 15: np.frombuffer(body[1:65], np.uint8).astype(float)
             for body in segs[0xDB]}
    tables: dict[tuple[int, int], dict[tuple[int, int], int]] = {}
    for body in segs[0xC4]:
        tables.update(_huffman(body))
    sos = segs[0xDA][0]
    sel = [(sos[2 + 2 * c] >> 4, sos[2 + 2 * c] & 15) for c in range(ncomp)]
    bits = np.unpackbits(np.frombuffer(scan.replace(b"\xff\x00", b"\xff"), np.uint8))
    pos = 0

    def read(n: int) -> int:
        nonlocal pos
        v = 0
        for _ in range(n):
            v, pos = (v << 1) | int(bits[pos]), pos + 1
        return v

    def symbol(table: dict[tuple[int, int], int]) -> int:
        code = 0
        for length in range(1, 17):
            code = (code << 1) | read(1)
            if (length, code) in table:
                return table[(length, code)]
        raise AssertionError("bad Huffman code")

    def value(size: int) -> int:
        v = read(size)
        return v if size == 0 or v >> (size - 1) else v - (1 << size) + 1

    zz = sorted(((r, c) for r in range(8) for c in range(8)),
                key=lambda rc: (rc[0] + rc[1], rc[0] if (rc[0] + rc[1]) % 2 else -rc[0]))
    k = np.arange(8)
    basis = np.array([[(math.sqrt(1 / 8) if u == 0 else math.sqrt(2 / 8))
                       * math.cos((2 * x + 1) * u * math.pi / 16) for x in k] for u in k])
    by, bx = -(-h // 8), -(-w // 8)
    planes = np.zeros((ncomp, by * 8, bx * 8))
    pred = [0] * ncomp
    for m in range(by * bx):
        for c in range(ncomp):
            coef = np.zeros(64)
            pred[c] += value(symbol(tables[(0, sel[c][0])]))
            coef[0] = pred[c]
            i = 1
            while i < 64:
                rs = symbol(tables[(1, sel[c][1])])
                if rs == 0:
                    break
                i += rs >> 4
                coef[i] = value(rs & 15)
                i += 1
            block = np.zeros((8, 8))
            for n, (r, cc) in enumerate(zz):
                block[r, cc] = coef[n] * quant[qsel[c]][n]
            pix = basis.T @ block @ basis + 128
            y0, x0 = (m // bx) * 8, (m % bx) * 8
            planes[c, y0:y0 + 8, x0:x0 + 8] = pix
    planes = planes[:, :h, :w]
    if ncomp == 1:
        return np.clip(np.rint(planes[0]), 0, 255).astype(np.uint8)
    y, cb, cr = planes[0], planes[1] - 128, planes[2] - 128
    rgb = np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], -1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _scene(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 4 + 20, y * 3 + 30, 128 + 60 * np.sin(x / 7 + y / 5)], -1)
    img = np.clip(img, 0, 255).astype(np.uint8)
    img[h // 4:h // 2, w // 4:w // 2] = (250, 20, 20)
    return img


@pytest.mark.parametrize(("h", "w"), [(16, 24), (37, 53), (64, 48)])
def test_colour_round_trip(h: int, w: int) -> None:
    img = _scene(h, w)
    data = encode_jpeg(img, 90)
    assert check_jpeg(data, 1 << 20) == (w, h)
    back = decode(data)
    assert back.shape == img.shape
    assert np.abs(back.astype(int) - img).mean() < 3.0


def test_flat_single_block_is_exact() -> None:
    img = np.full((8, 8, 3), (200, 100, 50), np.uint8)
    assert np.abs(decode(encode_jpeg(img)).astype(int) - img).max() <= 2


def test_gray_round_trip_and_quality() -> None:
    img = _scene(40, 40)[..., 0].copy()
    good, poor = encode_jpeg(img, 95), encode_jpeg(img, 5)
    assert len(poor) < len(good)
    err_good = np.abs(decode(good).astype(int) - img).mean()
    err_poor = np.abs(decode(poor).astype(int) - img).mean()
    assert err_good < 1.5 < err_poor


def test_noise_exercises_long_codes_and_byte_stuffing() -> None:
    img = np.random.default_rng(7).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    data = encode_jpeg(img, 100)
    assert b"\xff\x00" in data  # stuffed 0xFF bytes in the scan
    assert np.abs(decode(data).astype(int) - img).mean() < 4.0


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        encode_jpeg(np.zeros((4, 4, 3), np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode_jpeg(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError):
        encode_jpeg(np.zeros((4, 4), np.uint8), quality=0)


@pytest.mark.skipif(not (importlib.util.find_spec("cv2") or importlib.util.find_spec("PIL")),
                    reason="neither OpenCV nor Pillow installed (the vision extra brings OpenCV)")
def test_standard_decoder_reads_it() -> None:
    img = _scene(120, 160)
    data = encode_jpeg(img, 85)
    if importlib.util.find_spec("cv2"):
        import cv2

        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert bgr is not None
        back = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    else:
        from PIL import Image

        back = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert np.abs(back.astype(int) - img).mean() < 3.0
