"""Could any table meet the +-10% goal on this machine? The machine predicting itself.

Offline, no timing: reads validation reports (`hwnas tables validate --json` output, or the
`<table>.validation.json` / `.round<k>.validation.json` files beside a table) and, on the
networks each validation measured twice, scores the second measurement as if it were a
prediction of the first (`hwnas.tables.validate.noise_ceiling`): the share within +-10% and
the Kendall tau that re-measuring reaches, next to the table's on the same networks, and the
share of pairs that no single prediction could put both within +-10% of (the two measurements
more than 1.1/0.9 apart).

    .venv/bin/python benchmarks/machine_ceiling.py latency_tables/amd-epyc-2c/*validation.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.tables.validate import noise_ceiling  # noqa: E402


def score(path: Path) -> dict | None:
    report = json.loads(path.read_text())
    again = report.get("remeasured_ms") or []
    if len(again) < 2:
        return None
    first = report["measured_ms"]
    c = noise_ceiling(first, again, report["predicted_ms"])
    a, b = np.asarray(first[:len(again)]), np.asarray(again)
    c["incompatible"] = float(np.mean(np.maximum(a, b) / np.minimum(a, b) > 1.1 / 0.9))
    c["within_10_all"] = report["metrics"]["within_10"]
    return c


def main() -> None:
    print("| report | re-measured | within ±10% of the re-measurement | of the table (same "
          "networks) | of the table (all) | τ re-measured (table's) | pairs no prediction "
          "fits |")
    print("|---|---|---|---|---|---|---|")
    for arg in sys.argv[1:]:
        c = score(Path(arg))
        if c is None:
            print(f"| {Path(arg).name} | 0 | - | - | - | - | - |")
            continue
        print(f"| {Path(arg).name} | {c['n']} | {100 * c['within_10_remeasured']:.0f}% | "
              f"{100 * c['within_10_predicted']:.0f}% | {100 * c['within_10_all']:.0f}% | "
              f"{c['tau_remeasured']:.2f} ({c['tau_predicted']:.2f}) | "
              f"{100 * c['incompatible']:.0f}% |")


if __name__ == "__main__":
    main()
