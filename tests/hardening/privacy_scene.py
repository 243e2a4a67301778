"""Camera frames with real faces and a licence plate, that the urban detector reports on.

Ultralytics' sample photos hold real faces: ``bus.jpg`` (the urban model sees a ``crowd``) and
``zidane.jpg`` (it sees ``smoke``), so the gateway keeps an evidence image of each. Neither
shows a legible plate, so one is painted on the bus: white, black characters, 180 px wide —
a style and size fastanpr's plate detector finds (checked in ``test_privacy_checks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import ultralytics.utils

ASSETS = Path(ultralytics.utils.ASSETS)
PLATE_AT = (400, 700)  # top-left on bus.jpg: the bus's front, below the windscreen
PLATE_W, PLATE_H = 180, 50


@dataclass(frozen=True)
class Frame:
    name: str
    jpeg: bytes  # exactly the bytes published
    image: np.ndarray  # what the gateway decodes from them
    plates: list[tuple[float, float, float, float]]  # painted plates (ground truth)


def plate(text: str = "B 12345") -> np.ndarray:
    p = np.full((PLATE_H, PLATE_W, 3), 255, np.uint8)
    cv2.rectangle(p, (2, 2), (PLATE_W - 3, PLATE_H - 3), (0, 0, 0), 2)
    scale = PLATE_H / 40
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, 2)
    cv2.putText(p, text, ((PLATE_W - tw) // 2, (PLATE_H + th) // 2), cv2.FONT_HERSHEY_DUPLEX, scale,
                (0, 0, 0), max(1, int(2 * scale)), cv2.LINE_AA)
    return p


def _encode(name: str, image: np.ndarray, plates: list[tuple[float, float, float, float]]) -> Frame:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    jpeg = buf.tobytes()
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    return Frame(name, jpeg, decoded, plates)


def bus_with_plate() -> Frame:
    image = cv2.imread(str(ASSETS / "bus.jpg"))
    assert image is not None
    x, y = PLATE_AT
    image[y:y + PLATE_H, x:x + PLATE_W] = plate()
    return _encode("bus", image, [(float(x), float(y), float(x + PLATE_W), float(y + PLATE_H))])


def zidane() -> Frame:
    image = cv2.imread(str(ASSETS / "zidane.jpg"))
    assert image is not None
    return _encode("zidane", image, [])


def frames() -> list[Frame]:
    return [bus_with_plate(), zidane()]
