"""The probability that a candidate meets a hard limit known only after evaluation.

Constrained Bayesian optimisation (Gardner et al., 2014; Gelbart et al., 2014) models each
such limit with a GP of its own and weighs the acquisition by the probability of feasibility,
P(c(x) <= bound) = Phi((bound - mu(x)) / sd(x)): MOBO's EHVI times that product
(hwnas.strategies.mobo). A limit on a cost known before training (the table's latency) needs
no model: its probability is exactly 0 or 1, and MOBO drops the candidates that break it.

The GP is the objectives' own kind (hwnas.bayesopt.gp.HammingGP: exponentiated Hamming kernel
on one-hot rows), fitted to the values the limit reads (an accuracy) of every evaluated
candidate, feasible or not, standardised; hyperparameters by maximum likelihood every
`refit_every` new values (seeded), the factorisation at every call. Until two values are in,
every candidate is taken to be feasible (probability 1): nothing is known to say otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from hwnas.bayesopt.gp import HammingGP
from hwnas.objectives import Constraint


class FeasibilityModel:
    def __init__(self, constraint: Constraint, n_labels: int, *, refit_every: int = 10,
                 seed: int = 0):
        self.constraint = constraint
        self.gp = HammingGP(n_labels)
        self.refit_every, self.seed = int(refit_every), int(seed)
        self.X: list[np.ndarray] = []
        self.values: list[float] = []
        self._fitted_at = 0

    def add(self, x: np.ndarray, value: float) -> None:
        if isinstance(value, (int, float)) and math.isfinite(value):
            self.X.append(np.asarray(x, dtype=np.float32))
            self.values.append(float(value))

    def probability(self, Xc: np.ndarray) -> np.ndarray:
        """P(meets the limit) for each one-hot row of `Xc`."""
        n = len(self.values)
        if n < 2 or self.constraint.op == "==":
            return np.ones(len(Xc))
        y = np.array(self.values)
        mean, sd = float(y.mean()), float(y.std()) or 1.0
        t = (y - mean) / sd
        X = np.array(self.X)
        if self.gp.theta is None or n - self._fitted_at >= self.refit_every:
            self.gp.fit_hyperparameters(X, t, 0, (self.seed * 7919 + n) % 2**32)
            self._fitted_at = n
        self.gp.condition(X)
        mu, var, _ = self.gp.posterior(t, Xc)
        sigma = np.sqrt(var + self.gp.theta[2]) * sd  # what an evaluation would report
        mu = mu * sd + mean
        from scipy.stats import norm

        z = (self.constraint.bound - mu) / np.maximum(sigma, 1e-12)
        return norm.cdf(z if self.constraint.op in ("<=", "<") else -z)
