"""Typed errors of the vision package."""

from __future__ import annotations


class VisionError(RuntimeError):
    """A vision component cannot do its job (missing model, bad configuration, bad image)."""


class ModelLoadError(VisionError):
    """Weights could not be found or loaded by the chosen backend."""
