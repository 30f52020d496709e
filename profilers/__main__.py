"""Standalone entry point: ``python -m profilers <command>``.

Runs on a device that has only this package, numpy and a backend runtime. Each command is a
``_cmd_<name>(args) -> int`` function added to the sub-parsers in ``_parser``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import BACKENDS, BackendUnavailable, device_fingerprint, device_slug


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
