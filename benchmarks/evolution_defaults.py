"""Choose aging evolution's defaults (population, sample size) on tuning problems only.

The grid of benchmarks/tune_defaults.py (problems T1-T3, never the league's) over population
20/50/100 and sample sizes of 10/25/50/100% of it; the setting kept as the default is then
reported, untouched, on the league's problems.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/evolution_defaults.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tune_defaults import run_grid  # noqa: E402

POPULATIONS = (20, 50, 100)
SAMPLE_SHARES = (0.1, 0.25, 0.5, 1.0)  # sample size as a share of the population


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=500)
    args = parser.parse_args()
    settings = [{"population": pop, "sample_size": max(2, round(pop * share))}
                for pop in POPULATIONS for share in SAMPLE_SHARES]
    run_grid("evolution", settings, args.seeds, args.budget)


if __name__ == "__main__":
    main()
