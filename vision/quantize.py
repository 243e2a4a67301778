"""INT8 post-training quantization of the exported detector for OpenVINO (NNCF).

The only module that imports nncf. Calibration images come from the caller (the CLI renders
scenes from seeds no split of the training recipe uses, plus patrol frames), as arrays that are
letterboxed here exactly as the runtime will letterbox them.

What stays in floating point, and why (chosen on the validation split, seed 2; the held-out
set was scored once with the result, ``vision/weights/README.md``):
- the box decoding of the head (the DFL softmax-expectation and the anchor arithmetic): its
  outputs are pixel coordinates, and 8 bits of them move boxes by pixels;
- the class sigmoid;
- the first convolution (raw pixels in) and the last convolution of each box and class branch
  (they produce the logits the confidence threshold cuts): 0.3 points of mAP50 for < 1 % speed.

Quantizing the ONNX graph into QDQ form instead is not an option: ONNX Runtime runs that graph
right, but OpenVINO 2026.4 gets its boxes wrong (mAP50 0.15), so the INT8 model is stored as
OpenVINO IR (``.xml`` + ``.bin``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vision.errors import VisionError
from vision.yolo_tensor import to_batch

KEEP_FLOAT = [
    r".*/model\.22/.*/Add", r".*/model\.22/.*/Sub.*", r".*/model\.22/.*/Mul.*", r".*/model\.22/.*/Div.*",
    r".*/model\.22/dfl/.*", r"/model\.0/conv/Conv", r"/model\.22/cv2\.\d/cv2\.\d\.2/Conv",
    r"/model\.22/cv3\.\d/cv3\.\d\.2/Conv",
]


def quantize_int8(onnx_file: Path, out_xml: Path, calibration: list[tuple[np.ndarray, int]],
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write the INT8 OpenVINO IR of ``onnx_file`` to ``out_xml`` (and its ``.bin``).

    ``calibration`` holds BGR images with the input size each is run at (the size the runtime
    will use for such images: 320 for the training scenes, 640 for camera frames)."""
    try:
        import nncf
        import openvino as ov
    except ImportError as err:
        raise VisionError(f"INT8 export needs nncf and openvino (pip install 'urbanops[vision]'): {err}") from err
    say = progress or (lambda _t: None)
    if not calibration:
        raise VisionError("INT8 calibration needs images")
    tensors = [to_batch([img], size)[0] for img, size in calibration]
    model = ov.Core().read_model(str(onnx_file))
    input_name = model.inputs[0].get_any_name()
    ignored = nncf.IgnoredScope(patterns=KEEP_FLOAT, types=["Sigmoid"], validate=False)
    say(f"calibrating INT8 on {len(tensors)} images")
    t0 = time.monotonic()
    quantized = nncf.quantize(model, nncf.Dataset(tensors, lambda t: {input_name: t}),
                              preset=nncf.QuantizationPreset.MIXED, subset_size=len(tensors),
                              ignored_scope=ignored)
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out_xml))
    return {"int8": str(out_xml), "calibration_images": len(tensors), "seconds": round(time.monotonic() - t0, 1),
            "preset": "mixed", "keep_float": KEEP_FLOAT}
