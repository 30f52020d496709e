"""Versions of hwnas and the libraries that shape results, for config.json and tables."""

from __future__ import annotations

import importlib.metadata
import platform


def versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("hwnas", "torch", "numpy", "onnx", "onnxruntime-gpu", "onnxruntime", "pymoo",
                 "scikit-learn"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out
