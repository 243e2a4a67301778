"""Where an exported model lives.

The runtimes that run an exported graph (ONNX Runtime, OpenVINO) take the ``.onnx`` file that
``urbanops vision export`` writes (OpenVINO also its own ``.xml`` IR, which is how the INT8
model is stored); configured with the usual ``.pt`` weights they use the ``.onnx`` beside it,
so one setting names the model for every runtime.
"""

from __future__ import annotations

from pathlib import Path

from vision.errors import ModelLoadError


def exported_path(weights: Path, accepted: tuple[str, ...] = (".onnx",), int8: bool = False) -> Path:
    """``weights`` itself when the runtime reads its format, else the ``.onnx`` with the same
    stem (``int8``: the ``<stem>-int8.xml`` OpenVINO IR)."""
    path = Path(weights)
    if path.suffix in accepted:
        candidate = path
    elif int8:
        candidate = path.with_name(f"{path.stem}-int8.xml")
    else:
        candidate = path.with_suffix(".onnx")
    if not candidate.is_file():
        fmt = "openvino-int8" if int8 else "onnx"
        raise ModelLoadError(f"no exported model at {candidate} (make one: urbanops vision export --weights {path} "
                             f"--format {fmt})")
    return candidate
