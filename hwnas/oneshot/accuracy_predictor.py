"""Once-for-all's accuracy predictor: a small MLP from a sub-network's encoding to the accuracy
it gets with the weights it inherits from the trained supernet.

Once-for-all measures 16K random sub-networks of the trained supernet (BatchNorm re-estimated,
on held-out images), fits a three-layer MLP (400 hidden units) on them, and its evolution
queries the MLP instead of the network: a search per deployment scenario then costs
milliseconds per candidate. The encoding is its code's: per layer, a one-hot of the kernel and
a one-hot of the expansion, both all zeros for a layer its stage's depth skips (depth is
implicit). The output is a learned offset from the mean accuracy of the training samples
(the reference's `base_acc`); the fit is mean squared error with Adam.

Scaled down: `predictor_samples` sub-networks (the `ofa` strategy's option) instead of 16K;
hidden layers of 100 units instead of 400; a fifth of the samples is held out of the fit to
say how well it ranks (Kendall tau), and the predictor used is the one fitted on the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.oneshot.progressive import ZERO, ElasticLayout, Genome

# The reference's predictor has three hidden layers of 400 for 16K samples; 100 units for the
# hundreds measured here (and a fit that takes about a second on one core).
HIDDEN, LAYERS = 100, 3
FIT_EPOCHS, FIT_LR = 500, 1e-3
HOLD_OUT = 0.2


def encode(layout: ElasticLayout, genome: Genome) -> np.ndarray:
    """The predictor's input for `genome` (module docstring)."""
    nk, ne = len(layout.kernels), len(layout.expansions)
    out = np.zeros(layout.n_layers * (nk + ne), dtype=np.float32)
    for i in range(layout.n_layers):
        if layout.option_of(genome, i) == ZERO:
            continue
        base = i * (nk + ne)
        out[base + layout.kernels.index(genome["ks"][i])] = 1
        out[base + nk + layout.expansions.index(genome["e"][i])] = 1
    return out


class AccuracyPredictor:
    """The MLP and its fit; `predict` takes genomes."""

    def __init__(self, layout: ElasticLayout, seed: int = 0):
        import torch
        import torch.nn as nn

        self.layout = layout
        torch.manual_seed(seed)
        dims = len(encode(layout, layout.full()))
        layers: list[nn.Module] = []
        for _ in range(LAYERS):
            layers += [nn.Linear(dims, HIDDEN), nn.ReLU()]
            dims = HIDDEN
        layers.append(nn.Linear(dims, 1, bias=False))
        self.net = nn.Sequential(*layers)
        self.base = 0.0

    def _x(self, genomes: Sequence[Genome]):
        import torch

        return torch.as_tensor(np.stack([encode(self.layout, g) for g in genomes]))

    def fit(self, genomes: Sequence[Genome], accuracies: Sequence[float]) -> float:
        """Fit on (genomes, accuracies); returns the final training RMSE."""
        import torch

        x = self._x(genomes)
        y = torch.as_tensor(np.asarray(accuracies, dtype=np.float32))
        self.base = float(y.mean())
        optimizer = torch.optim.Adam(self.net.parameters(), lr=FIT_LR)
        self.net.train()
        loss = torch.zeros(())
        for _ in range(FIT_EPOCHS):
            optimizer.zero_grad()
            loss = torch.mean((self.net(x).squeeze(1) + self.base - y) ** 2)
            loss.backward()
            optimizer.step()
        return float(loss.detach()) ** 0.5

    def predict(self, genomes: Sequence[Genome]) -> np.ndarray:
        import torch

        self.net.eval()
        with torch.no_grad():
            return (self.net(self._x(genomes)).squeeze(1) + self.base).numpy().astype(float)


def fit_predictor(layout: ElasticLayout, genomes: Sequence[Genome],
                  accuracies: Sequence[float], seed: int) -> tuple[AccuracyPredictor, dict]:
    """The predictor fitted on all but a held-out fifth of the samples, and how it did on that
    fifth: {"fitted", "held_out", "train_rmse", "held_out_rmse", "kendall_tau"}."""
    from scipy.stats import kendalltau

    n = len(genomes)
    order = np.random.default_rng([seed, 4]).permutation(n)
    n_test = int(round(HOLD_OUT * n)) if n >= 10 else 0
    test, train = order[:n_test], order[n_test:]
    predictor = AccuracyPredictor(layout, seed)
    rmse = predictor.fit([genomes[i] for i in train], [accuracies[i] for i in train])
    report = {"fitted": len(train), "held_out": n_test, "train_rmse": rmse,
              "held_out_rmse": None, "kendall_tau": None}
    if n_test >= 2:
        predicted = predictor.predict([genomes[i] for i in test])
        truth = np.asarray([accuracies[i] for i in test], dtype=float)
        report["held_out_rmse"] = float(np.sqrt(np.mean((predicted - truth) ** 2)))
        tau = kendalltau(predicted, truth).statistic
        report["kendall_tau"] = None if not np.isfinite(tau) else float(tau)
    return predictor, report
