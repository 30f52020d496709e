"""Do a table's predictions hold over time on a drifting machine? (issue 13, "Done when")

Takes a table (or profiles one), calibrates it once, then validates it `--repeats` times
`--interval-min` minutes apart, on other held-out networks each time (seeds 0, 1, ...):

- "reference": the table calibrated and validated with the reference workload interleaved
  and every network timed in `--rounds` passes, its median kept (the defaults of `hwnas tables
  calibrate/validate`); its report also scores the same measurements un-normalised ("raw");
- "reference, 1 pass": the same with one pass (the behaviour before passes existed; only when
  `--rounds` > 1);
- "no reference": a copy calibrated and validated with `--no-reference` and one pass (skip with
  `--no-baseline`), i.e. the behaviour before the reference existed.

Writes a JSON summary and a markdown table (within +-10%, Kendall tau, MAPE, median error,
noise floor and ceiling, drift seen) beside `--out`.

    .venv/bin/python benchmarks/table_drift.py --table latency_tables/<dev>/<t>.json \\
        --repeats 3 --interval-min 20 --out benchmarks/results/drift-ort.json
    .venv/bin/python benchmarks/table_drift.py --space proxyless --backend ort-cpu ...
    .venv/bin/python benchmarks/table_drift.py --space nb201 --space proxyless:torch-cpu \\
        --no-baseline ...

With several tables, every round validates each of them in turn, and the rounds start
`--interval-min` minutes apart.

Run it on an otherwise idle machine (it takes about (fit + repeats x (samples + noise)) x 2
network measurements, plus the waits).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _metrics(m: dict) -> dict:
    keep = ("within_10", "within_5", "kendall_tau", "mape", "median_error")
    return {k: m[k] for k in keep}


def _validation(table, seed: int, args, variant: tuple[bool, int], backend) -> dict:
    """One validation; its whole report (every network's times) is written beside the
    table as <table>.round<seed>.validation.json."""
    from hwnas.fileio import atomic_write_json
    from hwnas.tables.validate import validate_table

    reference, passes = variant
    start = time.perf_counter()
    r = validate_table(table, samples=args.samples, seed=seed, noise_samples=args.noise,
                       reference=reference, rounds=passes, backend=backend)
    atomic_write_json(Path(table.path).with_suffix(f".round{seed}.validation.json"),
                      r.to_dict())
    m = r.metrics
    out = {"seed": seed, "seconds": time.perf_counter() - start, **_metrics(m),
           "noise_floor": m["noise_floor"], "noise_ceiling": m["noise_ceiling"],
           "drift": m["drift"], "notes": m["notes"]}
    for name in ("raw", "affine_only", "plain_sum"):
        if name in m:
            out[name] = _metrics(m[name])
    return out


def run(args, backend=None) -> dict:
    """The whole experiment; `backend` replaces the tables' own (tests pass a fake one)."""
    from hwnas.latency.table import LatencyTable
    from hwnas.tables.calibrate import calibrate_table

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sources = [Path(t) for t in args.table or []] or [
        _profile(args, space, b, out.parent, backend)
        for entry in args.space for space, _, own in [entry.partition(":")]
        for b in (own or args.backend).split(",")]
    variants = {"reference": (True, args.rounds)}  # name: (reference, passes)
    if args.rounds > 1 and not args.no_baseline:
        variants["reference, 1 pass"] = (True, 1)
    if not args.no_baseline:
        variants["no reference"] = (False, 1)
    tables = {}
    for source in sources:
        # several tables: each name says which one ("nb201/ort-cpu: reference")
        label = "" if len(sources) == 1 else f"{_label(source)}: "
        for name, (reference, passes) in variants.items():
            slug = name.replace(", ", "-").replace(" ", "-")
            stem = out.stem if not label else f"{out.stem}-{_label(source).replace('/', '-')}"
            path = out.parent / f"{stem}-{slug}.json"
            shutil.copyfile(source, path)
            table = LatencyTable.load(path)
            calibrate_table(table, samples=args.fit, seed=1, reference=reference,
                            rounds=passes, backend=backend)
            table.save(path)
            tables[label + name] = (table, (reference, passes))
    rounds, started = [], time.monotonic()
    for i in range(args.repeats):
        if i:  # the rounds *start* --interval-min apart (a round over several tables is long)
            time.sleep(max(0.0, 60 * args.interval_min - (time.monotonic() - started)))
            started = time.monotonic()
        rounds.append({"round": i, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                       **{name: _validation(t, i, args, ref, backend)
                          for name, (t, ref) in tables.items()}})
        _write(out, args, sources, tables, rounds)  # a partial summary survives an interrupt
    return _write(out, args, sources, tables, rounds)


def _label(table_path: Path) -> str:
    from hwnas.latency.table import LatencyTable

    t = LatencyTable.load(table_path)
    return f"{t.space.get('name')}/{t.backend}"


def _profile(args, space_name: str, backend_name: str, folder: Path, backend) -> Path:
    from hwnas.cli.options import parse_kv  # 'resolution=16' -> 16, as the CLI reads it
    from hwnas.registry import SPACES
    from hwnas.tables.profile import profile_ops

    space = SPACES.get(space_name)(**parse_kv(args.space_opt, "--space-opt"))
    table = profile_ops(space, space.all_ops(), backend_name, threads=args.threads,
                        backend=backend)
    return table.save(folder / f"{Path(args.out).stem}-{space_name}-{backend_name}-profiled.json")


def _write(out: Path, args, sources, tables, rounds) -> dict:
    summary = {"machine": platform.processor() or platform.machine(), "args": vars(args),
               "source_tables": [str(s) for s in sources],
               "tables": {name: str(t.path) for name, (t, _) in tables.items()},
               "calibration": {name: t.calibration["fitted_on"].get("residual_selection")
                               for name, (t, _) in tables.items()},
               "rounds": rounds}
    out.write_text(json.dumps(summary, indent=1, default=float))
    out.with_suffix(".md").write_text(markdown(summary))
    return summary


def _machine_share(nc: dict) -> str:
    if "within_10_remeasured" not in nc:  # a report written before hwnas recorded it
        return "-"
    return (f"{100 * nc['within_10_remeasured']:.0f}% "
            f"({100 * nc['within_10_predicted']:.0f}%)")


def markdown(summary: dict) -> str:
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    lines = ["| round | variant | within ±10% | Kendall τ | MAPE | median error | noise floor "
             "(median) | noise ceiling τ (pred. τ same nets) | within ±10% of the "
             "re-measurement (of the prediction, same nets) | drift range / trend |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["rounds"]:
        for name in summary["tables"]:
            v = r[name]
            scored = [(name, v)] + ([(f"{name}, raw times", v["raw"])] if "raw" in v else [])
            for label, m in scored:
                nf, nc, d = v["noise_floor"], v["noise_ceiling"], v["drift"]
                drift = (f"{pct(d['range'])} / {100 * d['trend_per_min']:+.2f}%/min"
                         if d.get("n") else "-")
                lines.append(f"| {r['round']} | {label} | {pct(m['within_10'])} | "
                             f"{m['kendall_tau']:.3f} | {pct(m['mape'])} | "
                             f"{100 * m['median_error']:+.1f}% | {pct(nf['median'])} | "
                             f"{nc['tau_remeasured']:.3f} ({nc['tau_predicted']:.3f}) | "
                             f"{_machine_share(nc)} | {drift} |")
    return "\n".join(lines) + "\n"


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--table", action="append",
                        help="an existing table (copied; the copy is calibrated); repeatable")
    source.add_argument("--space", action="append",
                        help="profile this space first, on each --backend or on the one "
                        "given as SPACE:BACKEND; repeatable")
    parser.add_argument("--space-opt", action="append", default=[], help="k=v, repeatable")
    parser.add_argument("--backend", default="ort-cpu",
                        help="with --space: backend(s) to profile on, comma-separated")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fit", type=int, default=60)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--noise", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3,
                        help="passes over the networks of the main variant")
    parser.add_argument("--interval-min", type=float, default=20.0)
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the copy calibrated and validated without the reference")
    parser.add_argument("--out", default="benchmarks/results/table_drift.json")
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(markdown(run(parse())))
