"""Baseline JPEG encoder in NumPy (no OpenCV/Pillow needed on the gateway).

Why: raw ``sensor_msgs/Image`` frames must reach vision as JPEG, and the gateway's core
install has NumPy but not OpenCV. This is a plain baseline (sequential, Huffman) JFIF
encoder with the standard ITU T.81 Annex K tables, 4:4:4 sampling, grayscale or YCbCr.
Every stage (colour transform, DCT, quantisation, run-length coding, bit packing) is
vectorised; a 640x480 colour frame takes some tens of milliseconds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

_LUMA_Q = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.float64)
_CHROMA_Q = np.full(64, 99.0)
_CHROMA_Q[[0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 24, 25]] = [
    17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 47, 66]

_DC_LUMA = ([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], list(range(12)))
_DC_CHROMA = ([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], list(range(12)))
_AC_LUMA = ([0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D], bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f0"
    "2433627282090a161718191a25262728292a3435363738393a434445464748494a"
    "535455565758595a636465666768696a737475767778797a838485868788898a"
    "92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6"
    "c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa"))
_AC_CHROMA = ([0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77], bytes.fromhex(
    "000102031104052131061241510761711322328108144291a1b1c109233352f0"
    "156272d10a162434e125f11718191a262728292a35363738393a434445464748"
    "494a535455565758595a636465666768696a737475767778797a828384858687"
    "88898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3"
    "c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa"))


def _zigzag() -> I64:
    cells = [(r, c) for r in range(8) for c in range(8)]
    cells.sort(key=lambda rc: (rc[0] + rc[1], rc[0] if (rc[0] + rc[1]) % 2 else -rc[0]))
    return np.array([r * 8 + c for r, c in cells], dtype=np.int64)


ZIGZAG = _zigzag()
_K = np.arange(8)
_DCT = np.sqrt(np.where(_K == 0, 1 / 8, 2 / 8))[:, None] * np.cos(
    (2 * _K[None, :] + 1) * _K[:, None] * np.pi / 16)


def _codes(spec: tuple[list[int], list[int] | bytes]) -> tuple[I64, I64]:
    """Huffman code and length per symbol (0..255) from the table's BITS/HUFFVAL lists."""
    bits, values = spec
    code_of = np.zeros(256, dtype=np.int64)
    len_of = np.zeros(256, dtype=np.int64)
    code, k = 0, 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            code_of[values[k]], len_of[values[k]] = code, length
            code, k = code + 1, k + 1
        code <<= 1
    return code_of, len_of


_TABLES = [(_codes(_DC_LUMA), _codes(_AC_LUMA)), (_codes(_DC_CHROMA), _codes(_AC_CHROMA))]


def _quant(base: npt.NDArray[np.float64], quality: int) -> npt.NDArray[np.float64]:
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality  # IJG scaling
    return np.clip(np.floor((base * scale + 50) / 100), 1, 255)


def _blocks(plane: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    h, w = plane.shape
    return plane.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)


def _size(values: I64) -> I64:
    """JPEG magnitude category: bit length of |v|."""
    mag = np.abs(values)
    out = np.zeros_like(mag)
    nz = mag > 0
    out[nz] = np.floor(np.log2(mag[nz])).astype(np.int64) + 1
    return out


def _extra(values: I64, sizes: I64) -> I64:
    return np.where(values >= 0, values, values + (1 << sizes) - 1)


def _symbols(coef: I64, table: int) -> tuple[I64, I64, I64, I64]:
    """(block, order-in-block, value bits, bit length) of every Huffman symbol + extra bits."""
    (dc_code, dc_len), (ac_code, ac_len) = _TABLES[table]
    n = coef.shape[0]
    dc = coef[:, 0]
    diff = np.diff(dc, prepend=0)
    s = _size(diff)
    parts = [(np.arange(n), np.zeros(n, np.int64), (dc_code[s] << s) | _extra(diff, s),
              dc_len[s] + s)]
    ac = coef[:, 1:]
    blk, pos = np.nonzero(ac)
    if blk.size:
        first = np.ones(blk.size, dtype=bool)
        first[1:] = blk[1:] != blk[:-1]
        prev = np.where(first, -1, np.roll(pos, 1))
        run = pos - prev - 1
        zrl, run = run // 16, run % 16
        v = ac[blk, pos]
        s = _size(v)
        sym = (run << 4) | s
        parts.append((blk, 2 * pos + 2, (ac_code[sym] << s) | _extra(v, s), ac_len[sym] + s))
        if zrl.any():
            zb = np.repeat(blk, zrl)
            parts.append((zb, np.repeat(2 * pos + 1, zrl), np.full(zb.size, ac_code[0xF0]),
                          np.full(zb.size, ac_len[0xF0])))
    last = np.full(n, -1)
    np.maximum.at(last, blk, pos)
    eob = np.nonzero(last < 62)[0]
    parts.append((eob, np.full(eob.size, 1000), np.full(eob.size, ac_code[0]),
                  np.full(eob.size, ac_len[0])))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))  # type: ignore[return-value]


def _pack(values: I64, lengths: I64) -> bytes:
    total = int(lengths.sum())
    starts = np.cumsum(lengths) - lengths
    offset = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
    bits = (np.repeat(values, lengths) >> (np.repeat(lengths, lengths) - 1 - offset)) & 1
    pad = (-total) % 8
    data = np.packbits(np.concatenate([bits.astype(np.uint8), np.ones(pad, np.uint8)]))
    ff = np.nonzero(data == 0xFF)[0]
    return np.insert(data, ff + 1, 0).tobytes()  # byte stuffing


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


def encode_jpeg(image: npt.NDArray[np.uint8], quality: int = 85) -> bytes:
    """Encode an ``HxW`` (gray) or ``HxWx3`` (RGB) uint8 array as a baseline JPEG."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError("expected a uint8 HxW or HxWx3 (RGB) array")
    if not 1 <= quality <= 100:
        raise ValueError("quality must be 1..100")
    h, w = image.shape[:2]
    if not (0 < h < 65536 and 0 < w < 65536):
        raise ValueError(f"image size {w}x{h} not encodable")
    px = image.astype(np.float64)
    if px.ndim == 2:
        planes = [px]
    else:
        r, g, b = px[..., 0], px[..., 1], px[..., 2]
        planes = [0.299 * r + 0.587 * g + 0.114 * b,
                  -0.168736 * r - 0.331264 * g + 0.5 * b + 128,
                  0.5 * r - 0.418688 * g - 0.081312 * b + 128]
    ph, pw = -h % 8, -w % 8
    quants = [_quant(_LUMA_Q, quality), _quant(_CHROMA_Q, quality)]
    coefs: list[I64] = []
    for i, plane in enumerate(planes):
        blocks = _blocks(np.pad(plane, ((0, ph), (0, pw)), mode="edge") - 128.0)
        dct = _DCT @ blocks @ _DCT.T
        q = quants[min(i, 1)]
        coefs.append(np.rint(dct.reshape(-1, 64) / q)[:, ZIGZAG].astype(np.int64))
    ncomp = len(planes)
    blk, key, vals, lens = [], [], [], []
    for i, coef in enumerate(coefs):
        blocks_of, k, v, ln = _symbols(coef, min(i, 1))
        blk.append(blocks_of * ncomp + i)  # interleaved scan: MCU m holds block m of each component
        key.append(k)
        vals.append(v)
        lens.append(ln)
    order = np.lexsort((np.concatenate(key), np.concatenate(blk)))
    scan = _pack(np.concatenate(vals)[order], np.concatenate(lens)[order])

    out = [b"\xff\xd8", _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")]
    for tid in range(min(ncomp, 2)):
        out.append(_segment(0xDB, bytes([tid]) + quants[tid][ZIGZAG].astype(np.uint8).tobytes()))
    sof = bytes([8]) + h.to_bytes(2, "big") + w.to_bytes(2, "big") + bytes([ncomp])
    sof += b"".join(bytes([i + 1, 0x11, min(i, 1)]) for i in range(ncomp))
    out.append(_segment(0xC0, sof))
    for tid, (dc, ac) in enumerate([(_DC_LUMA, _AC_LUMA), (_DC_CHROMA, _AC_CHROMA)][: min(ncomp, 2)]):
        for cls, (bits, values) in enumerate((dc, ac)):
            out.append(_segment(0xC4, bytes([cls << 4 | tid, *bits]) + bytes(values)))
    sos = bytes([ncomp]) + b"".join(bytes([i + 1, min(i, 1) * 0x11]) for i in range(ncomp))
    out.append(_segment(0xDA, sos + b"\x00\x3f\x00"))
    out.append(scan)
    out.append(b"\xff\xd9")
    return b"".join(out)
