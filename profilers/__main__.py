"""Standalone entry point: ``python -m profilers <command>``.

Runs on a device that has only this package, numpy and a backend runtime. Each command is a
``_cmd_<name>(args) -> int`` function added to the sub-parsers in ``_parser``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import BACKENDS, BackendUnavailable, TimingConfig, device_fingerprint, device_slug
from .bundle import BundleError, MeasureError, check_output, measure_bundle, write_json_atomic


def _backend_report(name: str) -> dict[str, Any]:
    cls = BACKENDS[name]
    reason = cls.unavailable_reason()
    report: dict[str, Any] = {
        "available": reason is None,
        "reason": reason,
        "input_format": cls.input_format,
        "device_kind": cls.device_kind,
        "dtypes": list(cls.supported_dtypes),
    }
    if reason is None:
        try:
            report["runtime"] = cls().runtime_info()
        except (BackendUnavailable, ImportError, RuntimeError) as exc:
            report["runtime_error"] = str(exc).splitlines()[0] if str(exc) else repr(exc)
    return report


def _cmd_info(args: argparse.Namespace) -> int:
    fp = device_fingerprint()
    names = args.backend or sorted(BACKENDS)
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        print(
            f"Unknown backend(s) {unknown}. Valid backends: {', '.join(sorted(BACKENDS))}.",
            file=sys.stderr,
        )
        return 2
    out = {
        "device": fp,
        "slug": device_slug(fp),
        "backends": {name: _backend_report(name) for name in names},
    }
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


def _fail(message: str, code: int) -> int:
    print(f"profilers: error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def _cmd_measure(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(args.bundle).with_suffix(f".{args.backend}.json")

    def progress(i: int, total: int, key: str, p50: float) -> None:
        if not args.quiet:
            print(f"[{i + 1}/{total}] {key}  p50 {p50:.4f} ms", file=sys.stderr, flush=True)

    try:
        check_output(out)  # before a measurement that takes minutes
        timing = TimingConfig(time_budget_s=args.time_budget, max_repeats=args.max_repeats,
                              min_repeats=min(10, args.max_repeats))
        table = measure_bundle(args.bundle, args.backend, threads=args.threads, timing=timing,
                               progress=progress)
    except (BundleError, BackendUnavailable, ValueError) as exc:
        return _fail(exc, 2)  # a bad bundle or request, not a failed measurement
    except MeasureError as exc:
        return _fail(exc, 1)
    try:
        write_json_atomic(out, table)
    except OSError as exc:  # a disk that filled during the measurement
        return _fail(f"{out} could not be written ({exc.strerror or exc}); the measurement "
                     "is lost: free space or give another --out and measure again", 1)
    total = sum(e["p50"] for e in table["entries"].values())
    print(f"wrote {out}: {len(table['entries'])} ops on {args.backend} "
          f"({device_slug(table['device'])}); sum of p50 = {total:.3f} ms")
    print(f"next: copy it back and run `hwnas tables import {out.name}`")
    return 0


def _add_measure(commands) -> None:
    measure = commands.add_parser(
        "measure", help="time every op of a bundle from `hwnas profile --bundle`, write a table"
    )
    measure.add_argument("bundle", help="the zip written by `hwnas profile --bundle`")
    measure.add_argument("--backend", default="ort-cpu",
                         help="an ONNX backend: ort-cpu, ort-cuda, ort-tensorrt (default ort-cpu)")
    measure.add_argument("--threads", type=_positive_int, default=None,
                         help="intra-op threads (default: the runtime's own choice)")
    measure.add_argument("-o", "--out", default=None,
                         help="table JSON to write (default: <bundle>.<backend>.json)")
    measure.add_argument("--time-budget", type=float, default=0.5, metavar="S",
                         help="seconds of timed repeats per op (default 0.5)")
    measure.add_argument("--max-repeats", type=_positive_int, default=200,
                         help="timed repeats per op at most (default 200)")
    measure.add_argument("--quiet", action="store_true", help="no per-op progress lines")
    measure.set_defaults(func=_cmd_measure)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an int") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m profilers",
        description="Measure models on this device, without the rest of hwnas.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info = commands.add_parser(
        "info", help="print this device's fingerprint and which backends can run, as JSON"
    )
    info.add_argument(
        "--backend", action="append", metavar="NAME",
        help="report only this backend (repeatable); default: all",
    )
    info.set_defaults(func=_cmd_info)
    _add_measure(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
