"""Latency-table accuracy on whole networks: plain sum vs calibrated, on held-out networks.

For each table: calibrate on `--fit` random networks (seed 1), then validate on `--samples`
other random networks (seed 0; the fitted ones are excluded by construction), with the noise
floor from re-measuring `--noise` of them at the end. Reports are written beside each table
(<table>.validation.json / .png) and a markdown summary is printed for BENCHMARKS.md.

    .venv/bin/python benchmarks/latency_accuracy.py latency_tables/<device>/*.json

Run on an otherwise idle machine. The goal (issue "Latency tables you can trust"): >= 95% of
held-out networks within +-10% and Kendall tau >= 0.9, for torch-cpu and ort-cpu.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def hwnas_json(*args: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args, "--json"], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"hwnas {' '.join(args)} failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def evaluate(table: Path, fit: int, samples: int, noise: int) -> dict:
    start = time.perf_counter()
    calibration = hwnas_json("tables", "calibrate", str(table), "--samples", str(fit),
                             "--seed", "1")["calibration"]
    fit_seconds = time.perf_counter() - start
    report = hwnas_json("tables", "validate", str(table), "--samples", str(samples), "--seed",
                        "0", "--noise-samples", str(noise))
    return {"table": str(table), "backend": report["backend"], "calibration": calibration,
            "metrics": report["metrics"], "fit_seconds": fit_seconds,
            "validate_seconds": time.perf_counter() - start - fit_seconds}


def row(r: dict) -> str:
    m, plain, nf = r["metrics"], r["metrics"]["plain_sum"], r["metrics"]["noise_floor"]
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    return (f"| {r['backend']} | {pct(plain['within_10'])} / {plain['kendall_tau']:.3f} / "
            f"{pct(plain['mape'])} | {pct(m['within_5'])} | **{pct(m['within_10'])}** | "
            f"**{m['kendall_tau']:.3f}** | {pct(m['mape'])} | {pct(nf['median'])} "
            f"(p90 {pct(nf['p90'])}) | {r['fit_seconds']:.0f} + {r['validate_seconds']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="+", type=Path)
    parser.add_argument("--fit", type=int, default=60)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--noise", type=int, default=20)
    args = parser.parse_args()
    results = [evaluate(t, args.fit, args.samples, args.noise) for t in args.tables]
    print(f"machine: {platform.machine()}, {results[0]['metrics'].get('device', '')} "
          f"python {platform.python_version()}; {args.fit} fitting networks, {args.samples} "
          f"held-out networks, noise floor from {args.noise} re-measured")
    print("\n| backend | plain sum: ±10% / τ / MAPE | calibrated ±5% | calibrated ±10% | "
          "calibrated τ | calibrated MAPE | noise floor (median) | fit + validate (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(row(r))
    for r in results:
        c = r["calibration"]
        scales = ", ".join(f"{k} {v:.3f}" for k, v in c["scales"].items())
        print(f"\n{r['table']}: intercept {c['intercept_ms']:+.4f} ms, per op "
              f"{c['per_op_ms']:+.4f} ms, scales {scales}")


if __name__ == "__main__":
    main()
