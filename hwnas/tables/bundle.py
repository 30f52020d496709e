"""Export every unique op of a space as an ONNX bundle for a remote device to measure.

The device runs `python -m profilers measure ops.zip` (profilers/bundle.py: numpy and
onnxruntime only) and sends back a table JSON; `hwnas tables import` files it. The ONNX files
carry the batch in their input shape, so the device cannot time another batch by mistake.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from hwnas.errors import BadInputError
from hwnas.fileio import atomic_write_bytes
from hwnas.nn.onnx_io import OPSET, module_to_onnx
from hwnas.registry import SPACES

SCHEMA = 1
DTYPES = ("fp32", "fp16")


def op_file_name(index: int, op: str) -> str:
    # Keys hold '|' and '=', awkward in file names on some systems; the index keeps names
    # unique and the op name keeps the zip readable by eye.
    return f"ops/{index:03d}-{op}.onnx"


def export_bundle(space: str, space_config: dict | None, path: str | Path, *, batch: int = 1,
                  dtype: str = "fp32", progress=None) -> dict:
    """Write `path` (a zip) atomically; return its manifest."""
    if dtype == "int8":  # quantizing needs hwnas and onnx, which a device does not have
        raise BadInputError("a bundle cannot hold int8 ops yet (they are quantized where they "
                            "are profiled); profile int8 on the device itself with `hwnas "
                            "profile --backend ort-cpu --dtype int8`, or bundle "
                            f"{' or '.join(DTYPES)}")
    if dtype not in DTYPES:
        raise BadInputError(f"bundle dtype {dtype!r} is not allowed; allowed: "
                            f"{', '.join(DTYPES)}")
    if not isinstance(batch, int) or batch < 1:
        raise BadInputError(f"bundle batch must be an int >= 1; got {batch!r}")
    space_obj = SPACES.get(space)(**(space_config or {}))
    sigs = space_obj.all_ops()
    import torch

    buf = io.BytesIO()
    ops = []
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i, sig in enumerate(sigs):
            torch.manual_seed(0)  # the same weights for the same op, as in profile_ops
            module = space_obj.build_op(sig).eval()
            shape = [sig.cin, sig.h, sig.w]
            zf.writestr(op_file_name(i, sig.op), module_to_onnx(module, (batch, *shape), dtype))
            ops.append({"key": sig.key, "file": op_file_name(i, sig.op), "input_shape": shape})
            if progress:
                progress({"event": "op", "index": i, "total": len(sigs), "key": sig.key})
        manifest = {"schema": SCHEMA, "space": {"name": space_obj.name,
                                                "config": space_obj.config()},
                    "batch": batch, "dtype": dtype, "opset": OPSET, "ops": ops}
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
    atomic_write_bytes(path, buf.getvalue())
    return manifest
