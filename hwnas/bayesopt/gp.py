"""A Gaussian process over one-hot architecture encodings (exponentiated Hamming kernel),
with incremental conditioning and Kriging-believer fantasies. Used by the `mobo` strategy
(hwnas.strategies.mobo, whose docstring gives the model and its costs).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

_JITTER = 1e-10  # scikit-learn's default `alpha`, added to the kernel's diagonal
# Hyperparameter bounds, for targets standardised to mean 0 and variance 1.
C_BOUNDS, L_BOUNDS, NOISE_BOUNDS = (1e-2, 1e2), (1e-1, 1e3), (1e-6, 1.0)
_V_SPARE_ROWS = 32  # rows a grown V keeps spare: mobo refits every 10 new results by default


class HammingGP:
    """GP over one-hot rows with `n_labels` ones each: k = c exp(-H / l^2) + noise, H the
    number of differing labels (= |x - x'|^2 / 2: scikit-learn's RBF on the one-hot rows).

    `condition(X)` factorises the training kernel; `append(X)` extends the factor by new
    rows (same hyperparameters). Given a fixed `universe` of candidates (every architecture
    of a small space), V = L^-1 k(X, universe) and the posterior variance are kept up to date
    the same way, so a step costs O(n U) instead of O(n^2 U)."""

    def __init__(self, n_labels: int, universe: np.ndarray | None = None):
        self.n_labels = int(n_labels)
        self.universe = universe
        self.theta: tuple[float, float, float] | None = None  # (c, l, noise)
        self.X = self.L = self.V = self.var = None
        # V's rows live in a buffer with room to grow (append): NB201's V is 300 x 15,625
        # doubles, and copying it whole for every new row was a third of a step's time
        self._V_buf: np.ndarray | None = None

    def fit_hyperparameters(self, X: np.ndarray, y: np.ndarray, n_restarts: int,
                            random_state: int) -> None:
        """Maximum likelihood (scikit-learn), from the previous fit when there is one."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        c0, l0, n0 = self.theta or (1.0, math.sqrt(2 * self.n_labels), 1e-2)
        kernel = (ConstantKernel(c0, C_BOUNDS) * RBF(l0, L_BOUNDS)
                  + WhiteKernel(n0, NOISE_BOUNDS))
        gpr = GaussianProcessRegressor(kernel, alpha=_JITTER, n_restarts_optimizer=n_restarts,
                                       random_state=np.random.RandomState(random_state))
        with warnings.catch_warnings():  # L-BFGS stopping early, a bound reached: expected
            warnings.simplefilter("ignore", ConvergenceWarning)
            gpr.fit(np.asarray(X, dtype=float), y)
        k = gpr.kernel_
        self.theta = (float(k.k1.k1.constant_value), float(k.k1.k2.length_scale),
                      float(k.k2.noise_level))

    def kernel(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Signal covariance (no noise) between one-hot rows."""
        c, length, _ = self.theta
        table = c * np.exp(-np.arange(self.n_labels + 1) / length ** 2)
        # labels that agree: sums of 0/1 products, exact integers in float32
        same = np.asarray(A, np.float32) @ np.asarray(B, np.float32).T
        return table[self.n_labels - same.astype(np.intp)]

    def _noisy(self, X: np.ndarray) -> np.ndarray:
        return self.kernel(X, X) + (self.theta[2] + _JITTER) * np.eye(len(X))

    def condition(self, X: np.ndarray) -> None:
        """Factorise the kernel of the training rows `X` (and V over the universe)."""
        self.X = np.asarray(X, dtype=np.float32)
        self.L = np.linalg.cholesky(self._noisy(self.X))
        if self.universe is not None:
            self.V = self._solve(self.L, self.kernel(self.X, self.universe))
            self._V_buf = None
            self.var = np.maximum(self.theta[0] - np.einsum("ij,ij->j", self.V, self.V), 0.0)

    def append(self, X: np.ndarray) -> None:
        """Condition on more training rows too: the Cholesky factor (and V) grow by rows."""
        import scipy.linalg as sl

        X = np.asarray(X, dtype=np.float32)
        if not len(X):
            return
        L21 = sl.solve_triangular(self.L, self.kernel(self.X, X), lower=True).T
        L22 = np.linalg.cholesky(self._noisy(X) - L21 @ L21.T)
        n, k = len(self.L), len(X)
        L = np.zeros((n + k, n + k))
        L[:n, :n], L[n:, :n], L[n:, n:] = self.L, L21, L22
        self.L, self.X = L, np.vstack([self.X, X])
        if self.universe is not None:
            rows = self._solve(L22, self.kernel(X, self.universe) - L21 @ self.V)
            self.V = self._grown(rows)
            self.var = np.maximum(self.var - np.einsum("ij,ij->j", rows, rows), 0.0)

    def _grown(self, rows: np.ndarray) -> np.ndarray:
        """V with `rows` below it: written into the buffer's spare rows (a C-ordered block, as
        np.vstack would give, so every product with V sums in the same order), the buffer
        replaced only when full."""
        n, k = len(self.V), len(rows)
        buf = self._V_buf
        if buf is None or len(buf) < n + k:
            buf = np.empty((n + k + _V_SPARE_ROWS, self.V.shape[1]), dtype=self.V.dtype)
            buf[:n] = self.V
            self._V_buf = buf
        buf[n:n + k] = rows
        return buf[:n + k]

    @staticmethod
    def _solve(L: np.ndarray, B: np.ndarray) -> np.ndarray:
        import scipy.linalg as sl

        return sl.solve_triangular(L, np.asfortranarray(B), lower=True, check_finite=False,
                                   overwrite_b=True)

    def posterior(self, y: np.ndarray, Xc: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean and variance (of the latent function) given training targets `y`, and
        V = L^-1 k(X, Xc), at `Xc` (None: the universe)."""
        import scipy.linalg as sl

        beta = sl.solve_triangular(self.L, y, lower=True)
        if Xc is None:
            V, var = self.V, self.var
        else:
            V = self._solve(self.L, self.kernel(self.X, Xc))
            var = np.maximum(self.theta[0] - np.einsum("ij,ij->j", V, V), 0.0)
        return V.T @ beta, var, V


class GroupedHammingGP(HammingGP):
    """The Hamming GP with one length scale per group of labels:
    k = c exp(-sum_g H_g / l_g^2) + noise, H_g the number of differing labels of group g.

    With groups [the space's labels, its derived labels] (mobo's `length_scales=per_group`)
    the model can learn, for example, that on NB201 accuracy follows the edges that are
    trained and not their raw labels, so cells computing the same network are nearly one
    point to it; with one group per label it is ARD over labels. One group is the plain
    `HammingGP` (whose fit scikit-learn does; here the marginal likelihood is maximised in
    numpy/scipy, as scikit-learn's kernels cannot tie a length scale to a set of columns).

    `groups`: per group, the one-hot columns of its labels and how many labels they hold.
    `theta` is (c, lengths, noise), `lengths` a tuple with one entry per group."""

    def __init__(self, groups, universe: np.ndarray | None = None):
        self.groups = [(np.asarray(cols, dtype=np.intp), int(n)) for cols, n in groups]
        self._universe_blocks: list[np.ndarray] | None = None
        super().__init__(sum(n for _, n in self.groups), universe)

    def _distances(self, A: np.ndarray, B: np.ndarray) -> list[np.ndarray]:
        """Per group, the number of labels on which rows of A and B differ."""
        return [n - (a @ b.T).astype(np.intp) for a, b, (_, n)
                in zip(self._blocks(A), self._blocks(B), self.groups, strict=True)]

    def _blocks(self, M: np.ndarray) -> list[np.ndarray]:
        """Per group, `M`'s columns of its labels (float32). The universe's are cut once: it
        is an operand of every step's kernel, and cutting 15,625 rows per call cost more than
        the products. The counts are exact integers either way: the same distances."""
        if M is self.universe and M is not None:
            if self._universe_blocks is None:
                self._universe_blocks = self._cut(M)
            return self._universe_blocks
        return self._cut(M)

    def _cut(self, M: np.ndarray) -> list[np.ndarray]:
        M = np.asarray(M, np.float32)
        return [np.ascontiguousarray(M[:, cols]) for cols, _ in self.groups]

    def kernel(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        c, lengths, _ = self.theta
        out = np.full((len(A), len(B)), c)
        for H, (_, n), length in zip(self._distances(A, B), self.groups, lengths, strict=True):
            out *= np.exp(-np.arange(n + 1) / length ** 2)[H]
        return out

    def fit_hyperparameters(self, X: np.ndarray, y: np.ndarray, n_restarts: int,
                            random_state: int) -> None:
        """Maximum likelihood over (log c, log l_g, log noise) by L-BFGS-B with the exact
        gradient, from the previous fit (or the plain GP's start) plus `n_restarts` starts
        drawn log-uniformly within the bounds, as scikit-learn does."""
        from scipy.optimize import minimize

        H = [h.astype(float) for h in self._distances(X, X)]
        y = np.asarray(y, float)
        bounds = np.log([C_BOUNDS, *[L_BOUNDS] * len(H), NOISE_BOUNDS])
        if self.theta is None:
            start = [1.0, *(math.sqrt(2 * n) for _, n in self.groups), 1e-2]
        else:
            start = [self.theta[0], *self.theta[1], self.theta[2]]
        rng = np.random.RandomState(random_state)
        starts = [np.log(start)] + [rng.uniform(bounds[:, 0], bounds[:, 1])
                                    for _ in range(n_restarts)]
        best = None
        for x0 in starts:
            res = minimize(_neg_log_likelihood, np.clip(x0, bounds[:, 0], bounds[:, 1]),
                           args=(H, y), jac=True, method="L-BFGS-B", bounds=bounds)
            if best is None or res.fun < best.fun:
                best = res
        c, *lengths, noise = np.exp(best.x)
        self.theta = (float(c), tuple(float(v) for v in lengths), float(noise))


def _neg_log_likelihood(log_theta: np.ndarray, H: list[np.ndarray], y: np.ndarray):
    """The GP's negative log marginal likelihood and its gradient in log parameters."""
    c, *lengths, noise = np.exp(log_theta)
    S = c * np.exp(-sum(h / length ** 2 for h, length in zip(H, lengths, strict=True)))
    K = S + (noise + _JITTER) * np.eye(len(y))
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        return 1e25, np.zeros_like(log_theta)
    import scipy.linalg as sl

    alpha = sl.cho_solve((L, True), y)
    nll = 0.5 * y @ alpha + np.log(np.diag(L)).sum() + 0.5 * len(y) * math.log(2 * math.pi)
    inner = sl.cho_solve((L, True), np.eye(len(y))) - np.outer(alpha, alpha)
    # dK/dlog c = S; dK/dlog l_g = S * 2 H_g / l_g^2; dK/dlog noise = noise I
    grads = [S, *(S * (2.0 * h / length ** 2) for h, length in zip(H, lengths, strict=True)),
             noise * np.eye(len(y))]
    return nll, np.array([0.5 * np.sum(inner * g) for g in grads])


class Fantasies:
    """A GP posterior over fixed candidates, conditioned one chosen candidate at a time on
    its own mean (Kriging believer): the mean stays, the variance gets rank-1 updates."""

    def __init__(self, gp: HammingGP, Xc: np.ndarray, var: np.ndarray, V: np.ndarray,
                 scale: float = 1.0):
        self.gp, self.Xc, self.var, self.V = gp, Xc, var.copy(), V
        self.scale = scale  # the GP's targets were divided by it
        self.W: list[np.ndarray] = []

    def condition_on(self, s: int) -> None:
        cov = self.gp.kernel(self.Xc, self.Xc[s:s + 1])[:, 0] - self.V.T @ self.V[:, s]
        for w in self.W:
            cov -= w * w[s]
        w = cov / math.sqrt(max(self.var[s], 0.0) + self.gp.theta[2] + _JITTER)
        self.W.append(w)
        self.var = np.maximum(self.var - w * w, 0.0)
