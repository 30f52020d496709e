"""Measure an op bundle (a zip of ONNX files + manifest.json) and write a latency table.

This is the remote-device half of `hwnas profile --bundle`: it needs only the standard library,
numpy and onnxruntime, never hwnas, so the `profilers` folder can be copied to a phone, a board
or a server without the rest of the tool. The table it writes is hwnas's schema 1, so
`hwnas tables import table.json` brings it back unchanged.

manifest.json: {"schema": 1, "space": {"name", "config"}, "batch", "dtype",
                "ops": [{"key", "file", "input_shape"}]}; input_shape is one sample's shape.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import BackendUnavailable, get_backend
from .timing import TimingConfig

MANIFEST = "manifest.json"
SCHEMA = 1
# Sizes read from the zip's directory before anything is inflated (a 0.5 MB zip can hold
# gigabytes). One op's ONNX file is its weights plus a few kB: a 3x3 conv of 1024 -> 1024
# channels is 38 MB in fp32, so 256 MB per member and 2 GB in all leave real bundles room.
MAX_MEMBER_BYTES = 256 << 20
MAX_BUNDLE_BYTES = 2 << 30
MAX_MANIFEST_BYTES = 16 << 20


class BundleError(ValueError):
    """The bundle or the request is unusable; the message is one line saying why."""


class MeasureError(RuntimeError):
    """A valid bundle whose op failed to run on this device; one line saying which and why."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def read_manifest(zf: zipfile.ZipFile, where: str) -> dict[str, Any]:
    """The bundle's manifest, checked field by field so a bad one fails before any timing."""
    try:
        raw = json.loads(zf.read(MANIFEST).decode("utf-8"))
    except KeyError:
        raise BundleError(f"{where} has no {MANIFEST}; make bundles with "
                          "`hwnas profile --bundle ops.zip`") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{where}: {MANIFEST} is not JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        got = raw.get("schema") if isinstance(raw, dict) else type(raw).__name__
        raise BundleError(f"{where}: manifest schema {got!r}; this reader knows {SCHEMA}")
    batch = raw.get("batch")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise BundleError(f"{where}: manifest batch must be an int >= 1, got {batch!r}")
    if not isinstance(raw.get("dtype"), str) or not isinstance(raw.get("space"), dict):
        raise BundleError(f"{where}: manifest needs a 'dtype' string and a 'space' object")
    ops = raw.get("ops")
    if not isinstance(ops, list) or not ops:
        raise BundleError(f"{where}: manifest 'ops' must be a non-empty list")
    names = set(zf.namelist())
    seen: set[str] = set()
    for i, op in enumerate(ops):
        _check_op(where, i, op, names, seen)
    return raw


def _check_op(where: str, i: int, op: Any, names: set[str], seen: set[str]) -> None:
    if not isinstance(op, dict) or not isinstance(op.get("key"), str) or not op["key"]:
        raise BundleError(f"{where}: manifest op {i} needs a non-empty 'key' string")
    if op["key"] in seen:
        raise BundleError(f"{where}: manifest lists op {op['key']!r} twice")
    seen.add(op["key"])
    if op.get("file") not in names:
        raise BundleError(f"{where}: op {op['key']!r} names file {op.get('file')!r}, "
                          "which the zip does not hold")
    shape = op.get("input_shape")
    if not isinstance(shape, list) or not shape or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape):
        raise BundleError(f"{where}: op {op['key']!r} input_shape must be a list of ints >= 1 "
                          f"(one sample, no batch), got {shape!r}")


def open_bundle(path: str | os.PathLike) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    where = f"bundle {path}"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None  # said below, with the command that makes one
    except OSError as exc:  # a symlink loop, no permission
        raise BundleError(f"{where} cannot be read ({exc.strerror or exc})") from None
    if mode is not None and not stat.S_ISREG(mode):  # a FIFO would block for ever
        raise BundleError(f"{where} is not a regular file (a folder, FIFO or device); give "
                          "the zip written by `hwnas profile --bundle ops.zip`")
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BundleError(f"{where} does not exist; make one with "
                          "`hwnas profile --bundle ops.zip`") from None
    except (zipfile.BadZipFile, IsADirectoryError, OSError) as exc:
        raise BundleError(f"{where} is not a zip file ({type(exc).__name__})") from None
    try:
        _check_sizes(zf, where)
        return zf, read_manifest(zf, where)
    except BaseException:
        zf.close()
        raise


def _check_sizes(zf: zipfile.ZipFile, where: str) -> None:
    """Refuse, from the zip's directory alone, a bundle whose members would inflate beyond
    the limits above."""
    infos = zf.infolist()
    big = max(infos, key=lambda i: i.file_size, default=None)
    total = sum(i.file_size for i in infos)
    manifest = next((i for i in infos if i.filename == MANIFEST), None)
    if manifest is not None and manifest.file_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{where}: {MANIFEST} would inflate to {manifest.file_size} bytes, "
                          f"more than the {MAX_MANIFEST_BYTES >> 20} MB a manifest may have")
    if big is not None and big.file_size > MAX_MEMBER_BYTES:
        raise BundleError(f"{where}: {big.filename!r} would inflate to {big.file_size >> 20} "
                          f"MB, more than the {MAX_MEMBER_BYTES >> 20} MB one op may have")
    if total > MAX_BUNDLE_BYTES:
        raise BundleError(f"{where} would inflate to {total >> 20} MB, more than the "
                          f"{MAX_BUNDLE_BYTES >> 20} MB a bundle may have")


def check_output(path: str | os.PathLike) -> Path:
    """Refuse, before measuring, an output the table cannot replace: an existing path that
    is not a regular file (a device such as /dev/null, a FIFO, a folder: the temp-file-and-
    rename write would replace a device node with a file), a parent that is a file, or a folder
    this process cannot create files in (permissions, /proc). Nothing is left behind."""
    path = Path(path)
    where = f"--out {os.fspath(path)!r} cannot be written"
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except OSError as exc:
        raise BundleError(f"{where}: {exc.strerror or exc}; give another --out") from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device or FIFO)"
        raise BundleError(f"{where}: it is {kind}; give a .json file name")
    parent = Path(os.path.abspath(path)).parent
    existing = next((p for p in (parent, *parent.parents) if os.path.lexists(p)), None)
    if existing is None or not existing.is_dir():
        raise BundleError(f"{where}: {existing} is not a folder; give another --out")
    try:  # the only test that sees a read-only mount or a pseudo file system (/proc)
        tempfile.TemporaryDirectory(dir=existing, prefix=".hwnas-probe.").cleanup()
    except OSError as exc:
        raise BundleError(f"{where}: no file can be created in {existing} "
                          f"({exc.strerror or exc}); give another --out") from None
    return path


def make_ort_backend(name: str, manifest: dict, threads: int | None, timing: TimingConfig):
    """The backend that will time the bundle: only ONNX-consuming ones can."""
    try:
        cls = get_backend(name)
    except ValueError as exc:
        raise BundleError(str(exc)) from None
    if cls.input_format != "onnx":
        onnx = sorted(_onnx_backends())
        raise BundleError(f"backend {name!r} measures torch modules; a bundle holds ONNX "
                          f"files: use one of {', '.join(onnx)}")
    if manifest["dtype"] == "int8":  # hwnas never writes one: its int8 ops are quantized
        # where they are timed, so the fp32 files of such a bundle would be timed as int8
        raise BundleError("a bundle of int8 ops cannot be measured: bundles hold fp32 or fp16 "
                          "ONNX; profile int8 with `hwnas profile --backend ort-cpu --dtype "
                          "int8` on the device")
    cls.check_available()
    try:
        return cls(threads=threads, timing=timing, batch=manifest["batch"],
                   dtype=manifest["dtype"])
    except ValueError as exc:
        raise BundleError(str(exc)) from None


def _onnx_backends() -> dict[str, type]:
    from .base import BACKENDS

    return {n: c for n, c in BACKENDS.items() if c.input_format == "onnx"}


def measure_bundle(path: str | os.PathLike, backend: str = "ort-cpu", *,
                   threads: int | None = None, timing: TimingConfig | None = None,
                   progress: Callable[[int, int, str, float], None] | None = None
                   ) -> dict[str, Any]:
    """Time every op of the bundle in manifest order; return the table as a plain dict."""
    zf, manifest = open_bundle(path)
    with zf:
        runner = make_ort_backend(backend, manifest, threads, timing or TimingConfig())
        entries: dict[str, Any] = {}
        ops = manifest["ops"]
        for i, op in enumerate(ops):
            try:
                m = runner.measure(zf.read(op["file"]), tuple(op["input_shape"]))
            except BackendUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - ORT's errors share no useful base class
                # ORT names a malformed model InvalidProtobuf/InvalidGraph/InvalidArgument, and
                # a shape that does not fit the manifest is a ValueError: the bundle is bad.
                # Anything else is the device failing to run a valid op.
                bad = isinstance(exc, ValueError) or type(exc).__name__.startswith("Invalid")
                error = BundleError if bad else MeasureError
                raise error(f"bundle {path}: op {op['key']!r}: {_one_line(exc)}") from None
            entries[op["key"]] = m.table_entry()  # same entry shape as `hwnas profile` writes
            if progress:
                progress(i, len(ops), op["key"], m.p50)
        return {"schema": SCHEMA, "units": "ms", "backend": backend,
                "batch": manifest["batch"], "dtype": manifest["dtype"], "threads": threads,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "device": runner.fingerprint(), "space": manifest["space"],
                "entries": dict(sorted(entries.items())), "calibration": None}


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Temp file + rename, like hwnas.fileio (not imported: this package stands alone)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = ["BundleError", "MeasureError", "measure_bundle", "open_bundle",
           "write_json_atomic"]
