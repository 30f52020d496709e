"""A learned correction of what the affine calibration leaves: whole-network effects that are
not a sum of per-op terms (fusion of adjacent ops, cache effects of a network's total working
set, per-call overheads that grow with depth).

    predicted = affine(network) * exp(r(features(network)))

`r` is a regression on features of the whole network (the affine prediction, the plain sum,
number of ops, op-type counts and latency shares, channel and resolution statistics), fitted
on the calibration networks' log ratio measured / affine. A log ratio keeps the correction
relative, like the +-10% the tables are judged by, and keeps predictions positive.

Which regressor: a random forest (nn-Meter's per-kernel predictor is one), a small gradient
boosting and a ridge regression are compared by K-fold cross-validation on the calibration
networks, together with "none" (the affine prediction alone), and the simplest one whose
cross-validated mean absolute log error is within one standard error of the lowest is kept
(the one-standard-error rule; simplest first: none, linear, gradient boosting, random
forest), the standard error being that of the per-network difference to the lowest. On 60
noisy networks the lowest alone over-fits: on proxyless/torch-cpu a random forest won the
cross-validation by 0.0655 to 0.0671 and then scored 71-78% within +-10% on held-out
networks against 80-83% for the affine prediction alone (BENCHMARKS.md). All are reported.

Stored in the table as plain JSON data (trees as arrays: feature, threshold, left, right,
value; linear models as coefficients) and predicted here with numpy alone: no pickle, and no
scikit-learn needed to read a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hwnas.errors import BadInputError
from hwnas.ops import OpSignature

KINDS = ("random-forest", "gradient-boosting", "linear")
CANDIDATES = ("none", *KINDS)
SIMPLEST_FIRST = ("none", "linear", "gradient-boosting", "random-forest")
MIN_NETWORKS = 10  # fewer and a cross-validated choice between models means nothing
FOLDS = 5


# -- features --------------------------------------------------------------------------------
def feature_names(types: Sequence[str]) -> list[str]:
    names = ["log_affine_ms", "log_plain_ms", "n_ops", "n_kernel_ops", "mean_cin",
             "max_cout", "mean_hw", "min_hw", "strided_ops"]
    names += [f"count:{t}" for t in types] + [f"share:{t}" for t in types]
    return names


def features(sigs: Sequence[OpSignature], entries: dict, types: Sequence[str], stat: str,
             affine_ms: float) -> np.ndarray:
    """The feature vector of one network (in `feature_names(types)` order)."""
    plain = [float(entries[s.key][stat]) for s in sigs]
    total = sum(plain)
    # ops with a convolution kernel: what fusion and cache effects act on (pooling, sums and
    # skips have none)
    real = [s for s in sigs if s.kernel] or list(sigs)
    cin = [s.cin for s in real] or [0]
    hw = [s.h for s in real] or [0]
    row = [math.log(max(affine_ms, 1e-9)), math.log(max(total, 1e-9)), len(sigs), len(real),
           float(np.mean(cin)), float(max((s.cout for s in real), default=0)),
           float(np.mean(hw)), float(min(hw)), float(sum(1 for s in real if s.stride > 1))]
    counts = dict.fromkeys(types, 0.0)
    shares = dict.fromkeys(types, 0.0)
    for s, v in zip(sigs, plain, strict=True):
        if s.op in counts:  # an op type the fit never saw contributes only through the sums
            counts[s.op] += 1.0
            shares[s.op] += v / total if total > 0 else 0.0
    return np.array(row + list(counts.values()) + list(shares.values()), dtype=np.float64)


# -- fitting ---------------------------------------------------------------------------------
def _estimators(seed: int) -> dict:
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Small models: a calibration set is tens of networks, so depth and leaves are bounded to
    # keep each leaf an average of several networks rather than one network's noise.
    return {
        "random-forest": RandomForestRegressor(n_estimators=50, max_depth=6, min_samples_leaf=3,
                                               max_features=0.5, random_state=seed),
        "gradient-boosting": GradientBoostingRegressor(n_estimators=60, max_depth=2,
                                                       learning_rate=0.1, subsample=1.0,
                                                       min_samples_leaf=3, random_state=seed),
        "linear": make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))),
    }


def one_standard_error_choice(abs_errors: dict) -> str:
    """The simplest candidate (SIMPLEST_FIRST) whose mean error exceeds the lowest by at most
    one standard error of their per-network difference."""
    best = min(SIMPLEST_FIRST, key=lambda n: float(np.mean(abs_errors[n])))
    for name in SIMPLEST_FIRST:
        diff = np.asarray(abs_errors[name]) - np.asarray(abs_errors[best])
        se = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
        if float(np.mean(diff)) <= se:
            return name
    return best


def cross_validated_errors(X: np.ndarray, y: np.ndarray, seed: int = 0) -> dict:
    """Each candidate's log error (~ relative error) on every network, predicted from the
    folds that held it out."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    folds = KFold(n_splits=min(FOLDS, len(y)), shuffle=True, random_state=seed)
    errors = {name: np.zeros(len(y)) for name in CANDIDATES}
    errors["none"] = y.copy()
    for name, estimator in _estimators(seed).items():
        for train, test in folds.split(X):
            model = clone(estimator).fit(X[train], y[train])
            errors[name][test] = y[test] - model.predict(X[test])
    return errors


def fit(X: np.ndarray, y: np.ndarray, types: Sequence[str], stat: str, seed: int = 0,
        force: str | None = None) -> dict:
    """Choose by cross-validation (or take `force`), refit on all networks, export as data.

    Returns {"chosen": name, "cv": {name: scores}, "model": exported model or None}."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    if len(y) < MIN_NETWORKS:
        return {"chosen": "none", "cv": {}, "model": None,
                "reason": f"needs at least {MIN_NETWORKS} calibration networks, got {len(y)}"}
    if force is not None and force not in CANDIDATES:
        raise BadInputError(f"unknown residual model {force!r}; allowed: {', '.join(CANDIDATES)}")
    errors = cross_validated_errors(X, y, seed)
    cv = {name: {"cv_mean_abs_log_error": float(np.mean(np.abs(e))),
                 "cv_within_10": float(np.mean(np.abs(np.expm1(-e)) <= 0.10))}
          for name, e in errors.items()}
    chosen = force or one_standard_error_choice(
        {name: np.abs(e) for name, e in errors.items()})
    model = fit_kind(X, y, types, stat, chosen, seed)
    return {"chosen": chosen, "cv": cv, "model": model}


def fit_kind(X: np.ndarray, y: np.ndarray, types: Sequence[str], stat: str, kind: str,
             seed: int = 0) -> dict | None:
    """A model of `kind` fitted on all of X, y and exported as data; None for "none"."""
    if kind == "none":
        return None
    model = export(_estimators(seed)[kind].fit(np.asarray(X, np.float64),
                                               np.asarray(y, np.float64)), kind)
    model.update(types=list(types), stat=stat, features=feature_names(types))
    return model


# -- export to plain data --------------------------------------------------------------------
def _tree(tree) -> dict:
    t = tree.tree_
    return {"feature": t.feature.tolist(), "threshold": t.threshold.tolist(),
            "left": t.children_left.tolist(), "right": t.children_right.tolist(),
            "value": t.value[:, 0, 0].tolist()}


def export(model, kind: str) -> dict:
    """A fitted scikit-learn model as JSON-ready data that `predict` evaluates exactly."""
    if kind == "random-forest":
        return {"kind": kind, "trees": [_tree(e) for e in model.estimators_]}
    if kind == "gradient-boosting":
        init = float(np.ravel(model.init_.constant_)[0])
        return {"kind": kind, "init": init, "learning_rate": float(model.learning_rate),
                "trees": [_tree(e) for e in model.estimators_[:, 0]]}
    if kind == "linear":
        scaler, ridge = model.steps[0][1], model.steps[-1][1]
        # folded into one affine map of the raw features: w . (x - mean) / scale + b
        w = ridge.coef_ / scaler.scale_
        return {"kind": kind, "coef": w.tolist(),
                "intercept": float(ridge.intercept_ - np.dot(w, scaler.mean_))}
    raise BadInputError(f"unknown residual model kind {kind!r}; allowed: {', '.join(KINDS)}")


# -- prediction ------------------------------------------------------------------------------
def _tree_predict(tree: dict, X32: np.ndarray) -> np.ndarray:
    feature = np.asarray(tree["feature"], np.int64)
    threshold = np.asarray(tree["threshold"], np.float64)
    left, right = np.asarray(tree["left"], np.int64), np.asarray(tree["right"], np.int64)
    node = np.zeros(len(X32), np.int64)
    rows = np.arange(len(X32))
    while True:
        inner = left[node] != -1
        if not inner.any():
            return np.asarray(tree["value"], np.float64)[node]
        f = np.where(inner, feature[node], 0)
        go_left = X32[rows, f] <= threshold[node]
        node = np.where(inner, np.where(go_left, left[node], right[node]), node)


def predict(model: dict, X: np.ndarray) -> np.ndarray:
    """The log ratio correction for each row of X (numpy only)."""
    X = np.atleast_2d(np.asarray(X, np.float64))
    kind = model["kind"]
    if kind == "linear":
        return X @ np.asarray(model["coef"], np.float64) + model["intercept"]
    # scikit-learn's trees compare float32 features with float64 thresholds: do the same, so
    # a feature equal to a threshold in float32 goes the same way here as there.
    X32 = X.astype(np.float32).astype(np.float64)
    trees = np.array([_tree_predict(t, X32) for t in model["trees"]])
    if kind == "random-forest":
        return trees.mean(axis=0)
    return model["init"] + model["learning_rate"] * trees.sum(axis=0)


def correct(model: dict, sigs: Sequence[OpSignature], entries: dict, affine_ms: float) -> float:
    """The affine prediction of one network times its learned correction (which can go
    anywhere above zero: `hwnas.latency.calibration.predict` clips it at the network's floor,
    as it does the affine prediction)."""
    x = features(sigs, entries, model["types"], model["stat"], affine_ms)
    return float(affine_ms * math.exp(float(predict(model, x[None, :])[0])))


# -- loading ---------------------------------------------------------------------------------
def check(model, where: str) -> None:
    """A stored residual model must be plain data of a known kind, its arrays consistent."""
    def bad(why: str) -> BadInputError:
        return BadInputError(f"{where}: calibration residual model {why}; re-run "
                             "`hwnas tables calibrate`")

    if not isinstance(model, dict) or model.get("kind") not in KINDS:
        raise bad(f"must be an object of kind {' or '.join(KINDS)}")
    names = model.get("features")
    if not isinstance(model.get("types"), list) or not isinstance(names, list) \
            or names != feature_names(model["types"]):
        raise bad("has features that this hwnas does not compute")
    if model["kind"] == "linear":
        coef = model.get("coef")
        if not isinstance(coef, list) or len(coef) != len(names):
            raise bad(f"needs {len(names)} coefficients")
        if not all(_finite(v) for v in [*coef, model.get("intercept")]):
            raise bad("has coefficients that are not finite numbers")
        return
    trees = model.get("trees")
    if not isinstance(trees, list) or not trees:
        raise bad("has no trees")
    for key in ("init", "learning_rate") if model["kind"] == "gradient-boosting" else ():
        if not _finite(model.get(key)):
            raise bad(f"has {key}={model.get(key)!r}; must be a finite number")
    for tree in trees:
        _check_tree(tree, len(names), bad)


def _check_tree(tree, n_features: int, bad) -> None:
    arrays = [tree.get(k) if isinstance(tree, dict) else None
              for k in ("feature", "threshold", "left", "right", "value")]
    if not all(isinstance(a, list) for a in arrays) or len({len(a) for a in arrays}) != 1:
        raise bad("has a tree whose arrays are missing or of different lengths")
    feature, threshold, left, right, value = arrays
    n = len(feature)
    for i in range(n):
        leaf = left[i] == -1
        # children point forward (scikit-learn numbers nodes depth first), so a walk ends
        if not leaf and not (isinstance(left[i], int) and isinstance(right[i], int)
                             and i < left[i] < n and i < right[i] < n
                             and isinstance(feature[i], int) and 0 <= feature[i] < n_features
                             and _finite(threshold[i])):
            raise bad(f"has a malformed tree node {i}")
        if not _finite(value[i]):
            raise bad(f"has a tree value that is not a finite number at node {i}")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
