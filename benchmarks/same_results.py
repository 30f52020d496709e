"""Do seeded searches give the same results as at another commit? For refactors that must not
change behaviour: the same small scratch-trained searches (every space, a table-free objective
set so no machine-specific table is involved) run with this checkout and with a `git worktree`
of `--against`, and their histories are compared record by record — architecture, cached flag
and every objective, accuracy bit for bit (wall times left out).

    .venv/bin/python benchmarks/same_results.py --against e711ce6

Prints a markdown table for BENCHMARKS.md; exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["--estimator-opt", "epochs=1", "--estimator-opt", "threads=1"]
CASES = {
    "proxyless / evolution": [
        "--space", "proxyless", "--space-opt", "resolution=16", "--space-opt", "width_mult=0.25",
        "--objectives", "accuracy,params", "--method", "evolution",
        "--strategy-opt", "population=4", "--strategy-opt", "sample_size=2", *TRAIN,
        "--estimator-opt", "resolution=16", "--estimator-opt", "train_subset=256",
        "--budget", "8", "--seed", "3"],
    "nb201 / random": [
        "--space", "nb201", "--space-opt", "C=4", "--space-opt", "N=1",
        "--space-opt", "resolution=8", "--objectives", "accuracy,params,flops",
        "--method", "random", *TRAIN, "--estimator-opt", "train_subset=128",
        "--budget", "3", "--seed", "5"],
    "fbnet / random": [
        "--space", "fbnet", "--objectives", "accuracy,params,flops", "--method", "random",
        *TRAIN, "--estimator-opt", "train_subset=128", "--estimator-opt", "resolution=8",
        "--budget", "3", "--seed", "5"],
}


def history(checkout: Path, args: list[str], run_dir: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(checkout / "cli.py"), "search", *args,
                           "--run-dir", str(run_dir), "--json"], cwd=checkout, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"search failed in {checkout}: {proc.stderr.strip()[-500:]}")
    records = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    return [{"arch": r["arch_key"], "cached": r["cached"],
             "result": {k: v for k, v in r["result"].items() if k != "eval_seconds"}}
            for r in records]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="commit to compare with")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    rows, differ = [], False
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(old), commit], cwd=ROOT,
                       check=True)
        try:
            for name, case in CASES.items():
                before = history(old, case, Path(tmp) / f"old-{len(rows)}")
                after = history(ROOT, case, Path(tmp) / f"new-{len(rows)}")
                same = sum(a == b for a, b in zip(before, after, strict=True))
                differ |= same != len(before)
                accs = " ".join(f"{r['result']['accuracy']:.4f}" for r in after)
                rows.append(f"| {name} | {len(before)} | {same} | {accs} |")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT,
                           check=False)
    print(f"Command: `.venv/bin/python benchmarks/same_results.py --against {commit}` "
          f"(this checkout: {head} and uncommitted changes)\n")
    print("| search | records | identical | accuracies (this checkout) |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
