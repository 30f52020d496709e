"""Surrogate shared by the progressive strategies (PNAS, DPP-Net): an ensemble of MLPs over a
one-hot encoding of the space's labels, predicting every objective at once.

PNAS (Liu et al., 2018) predicts a cell's accuracy with an ensemble of 5 predictors (MLP or
LSTM) trained on everything evaluated so far; an LSTM reads a cell's variable-length block
sequence, but hwnas's labels are a fixed-length vector, so an MLP over one-hot labels sees the
same information and is the variant PNAS found about as good. Each member is fit on a
bootstrap resample with its own seed, as PNAS's ensemble is, so members disagree where data
is thin. Targets are standardised per objective so that one multi-output MLP weighs accuracy
and latency alike.
"""

from __future__ import annotations

import warnings

import numpy as np

from hwnas.arch import Arch


class OneHot:
    """Arch -> 0/1 vector with one block per label (one column per option), the space's
    derived labels included (e.g. nb201's dead edges: learnt from few results otherwise)."""

    def __init__(self, space):
        self.space = space
        self._index: dict[tuple[str, object], int] = {}
        for label, opts in [*space.choices(), *space.derived_choices()]:
            for opt in opts:
                self._index[(label, opt)] = len(self._index)

    @property
    def width(self) -> int:
        return len(self._index)

    def columns(self, labels) -> list[int]:
        """The columns of these labels' options."""
        labels = set(labels)
        return [col for (label, _), col in self._index.items() if label in labels]

    def __call__(self, archs: list[Arch]) -> np.ndarray:
        X = np.zeros((len(archs), self.width))
        for i, arch in enumerate(archs):
            items = [*arch.values.items(), *self.space.derived(arch).items()]
            X[i, [self._index[item] for item in items]] = 1.0
        return X


class EnsembleSurrogate:
    """`n_models` bootstrap MLPRegressors; `predict` returns the members' mean and std."""

    def __init__(self, space, n_models: int = 5, hidden: int = 64, seed: int = 0,
                 max_iter: int = 400):
        self.encode = OneHot(space)
        self.n_models, self.hidden, self.max_iter = int(n_models), int(hidden), int(max_iter)
        self.rng = np.random.default_rng(seed)
        self._models: list = []
        self._mu = self._sd = None

    @property
    def fitted(self) -> bool:
        return bool(self._models)

    def fit(self, archs: list[Arch], Y) -> EnsembleSurrogate:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        X, Y = self.encode(archs), np.asarray(Y, dtype=float)
        if Y.ndim != 2 or len(Y) != len(X) or len(X) < 2:
            raise ValueError("fit() needs at least 2 archs and one row of objectives each")
        self._mu, self._sd = Y.mean(axis=0), Y.std(axis=0)
        self._sd[self._sd == 0] = 1.0
        Z = (Y - self._mu) / self._sd
        self._models = []
        for _ in range(self.n_models):
            rows = self.rng.integers(len(X), size=len(X))  # bootstrap: members disagree
            model = MLPRegressor(hidden_layer_sizes=(self.hidden,), solver="lbfgs",
                                 alpha=1e-3, max_iter=self.max_iter,
                                 random_state=int(self.rng.integers(2**31 - 1)))
            with warnings.catch_warnings():  # lbfgs stopping at max_iter is expected here
                warnings.simplefilter("ignore", ConvergenceWarning)
                # one target as a 1-d y: sklearn's single-output path, without a warning
                model.fit(X[rows], Z[rows] if Z.shape[1] > 1 else Z[rows, 0])
            self._models.append(model)
        return self

    def predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray]:
        if not self._models:
            raise RuntimeError("predict() before fit()")
        X = self.encode(archs)
        preds = np.stack([m.predict(X).reshape(len(X), -1) for m in self._models])
        preds = preds * self._sd + self._mu
        return preds.mean(axis=0), preds.std(axis=0)
