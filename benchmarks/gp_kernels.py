"""Which length scales and output warp model NB201 accuracy best? mobo's GPs on held-out cells.

Offline, no search: fits each kernel of `mobo`'s `length_scales` option (one length scale; one
for the space's labels and one for its derived labels; one per label), on the standardised
accuracies or on their Gaussian-copula warp (`warp`: hwnas.bayesopt.warp), by maximum
likelihood on 300 random cells of the NAS-Bench-201 table and predicts 3,000 others (warped
predictions mapped back). Prints, per accuracy column and draw, the held-out mean absolute
error (points), the same on the held-out cells in the table's top decile (where fronts are),
the correlation, and the fitted length scales.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gp_kernels.py nb201_in16_test_acc_200ep
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv"


def main(columns: list[str], draws: int = 2, train: int = 300, test: int = 3000) -> None:
    from hwnas.bayesopt.warp import CopulaWarp
    from hwnas.spaces.nb201 import Nb201Space
    from hwnas.strategies.mobo import LENGTH_SCALES, WARPS, new_gp
    from hwnas.strategies.surrogate import OneHot

    space = Nb201Space()
    rows = list(csv.DictReader(BENCHMARK.open()))
    encoder = OneHot(space)
    X = encoder([space.from_string(r["arch_str"]) for r in rows]).astype(np.float32)
    kernels = {name: (lambda name=name: new_gp(space, encoder, name)) for name in LENGTH_SCALES}
    print("| column | draw | length_scales | warp | held-out MAE | top-decile MAE | correlation "
          "| length scales |")
    print("|---|---|---|---|---|---|---|---|")
    for column in columns:
        y_all = np.array([float(r[column]) for r in rows])
        top_decile = np.quantile(y_all, 0.9)
        for draw in range(draws):
            order = np.random.default_rng(draw).permutation(len(rows))
            tr, te = order[:train], order[train:train + test]
            top = y_all[te] >= top_decile
            for name, make in kernels.items():
                for warp in WARPS:
                    if warp == "copula":
                        copula = CopulaWarp(y_all[tr])
                        t, back = copula.z, copula.inverse
                    else:
                        mean, sd = y_all[tr].mean(), y_all[tr].std()
                        t, back = (y_all[tr] - mean) / sd, (lambda m, a=mean, b=sd: m * b + a)
                    gp = make()
                    gp.fit_hyperparameters(X[tr], t, n_restarts=1, random_state=draw)
                    gp.condition(X[tr])
                    mu = back(gp.posterior(t, X[te])[0])
                    err = np.abs(mu - y_all[te])
                    lengths = np.round(np.atleast_1d(gp.theta[1]), 2).tolist()
                    print(f"| {column} | {draw} | {name} | {warp} | {err.mean():.2f} | "
                          f"{err[top].mean():.2f} | {np.corrcoef(mu, y_all[te])[0, 1]:.3f} | "
                          f"{lengths} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["nb201_in16_test_acc_200ep"])
