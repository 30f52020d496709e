"""`report()`: one self-contained HTML page about one or several runs (hwnas.report).

Every input is checked before anything is drawn or written: each run exists, the output
path can be written (its folder exists; an existing file is writable), and the runs share the
objectives. The page is written atomically, so a failure leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

from hwnas.errors import BadInputError
from hwnas.fileio import check_output


def report(run_paths: list[str | Path], out: str | Path, *,
           objectives: list[str] | None = None, figures_dir: str | Path | None = None) -> dict:
    """Write the report to `out` (.html); returns {"report", "runs", "objectives", "bytes",
    "figures"}. `figures_dir`: also write its images there as front.png and
    hypervolume.png (for a README or slides)."""
    from hwnas.fileio import atomic_write_bytes
    from hwnas.report import figures, html
    from hwnas.report.collect import collect

    if not run_paths:
        raise BadInputError("give at least one run, e.g. `hwnas report runs/<run> -o "
                            "report.html` (see `hwnas runs`)")
    out = check_output(out, "-o", suffixes=(".html", ".htm"))
    _check_report_target(Path(out))
    if figures_dir is not None:
        check_output(figures_dir, "--figures", folder=True)
    names, directions, runs = collect(run_paths, objectives)
    front = figures.front_png(runs, names, directions) if figures.has_points(runs) else None
    hv = figures.hv_png(runs) if figures.has_points(runs) else None
    text = html.page(names, directions, runs, front, hv).encode()
    written = []
    if figures_dir is not None:
        for name, data in (("front.png", front), ("hypervolume.png", hv)):
            if data:
                written.append(str(atomic_write_bytes(Path(figures_dir) / name, data)))
    atomic_write_bytes(out, text)
    return {"report": str(out), "runs": [str(d.run.path) for d in runs], "objectives": names,
            "bytes": len(text), "figures": written}


def _check_report_target(out: Path) -> None:
    """`check_output` lets missing folders be created; a report is one file a user names, so
    a missing folder is a typo, and an existing file must be writable (root too)."""
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise BadInputError(f"-o {str(out)!r} cannot be written: the folder {str(parent)!r} "
                            "does not exist; create it first or give another -o")
    if out.exists() and not os.access(out, os.W_OK) or \
            out.exists() and not (out.stat().st_mode & 0o222):
        raise BadInputError(f"-o {str(out)!r} cannot be written: the file is read-only; "
                            "give another -o, or make it writable (chmod u+w)")
