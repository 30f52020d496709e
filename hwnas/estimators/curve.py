"""`curve`: `scratch` training with learning-curve early stopping (Baker et al. 2017).

After Baker, Gupta, Raskar & Naik, "Accelerating Neural Architecture Search using Performance
Prediction" (2017): a ν-SVR learns to predict a net's final validation accuracy from the first
epochs of its learning curve plus architecture features, and a candidate whose prediction says
it will not matter is stopped after those epochs.

How it runs, candidate after candidate (one estimator object per search, so state is kept):

1. Every candidate trains exactly as `scratch` does (same options, recipe, seeds and cosine
   schedule over `epochs`: a stopped run is a bit-for-bit prefix of the full one, and a
   candidate that is not stopped gets the very accuracy `scratch` would report). After each of
   the first `observe_epochs` epochs the BatchNorm statistics are re-estimated and the
   validation accuracy is measured: the observed learning curve.
2. The first `min_train` candidates train to the end. Each (features of the observed curve +
   architecture, final accuracy) pair goes into the SVR's training set; the SVR is refitted
   whenever a pair arrives.
3. Once `min_train` pairs exist, after `observe_epochs` epochs the SVR predicts the final
   accuracy; the candidate stops when the prediction is below the threshold, else it trains to
   the end and its pair joins the training set.

Features (`curve_features`), as in the paper: the observed accuracies y_1..y_k, their first
differences and second differences, and architecture features: log10 of the parameter count
and, with `arch_features='onehot'`, the one-hot encoding of every `space.choices()` decision.
(The paper also uses training hyperparameters; they are the same for every candidate of a run
here, so they carry nothing.) The default is the compact form, as the paper's own
architecture features are a few numbers (depth, parameter count, ...): one-hot choices are
dozens of columns (81 for proxyless), which dominate the RBF kernel's distances when the SVR
has 8-30 curves to learn from, so that it predicts about their mean whatever the curve says
(measured: 24 proxyless candidates on digits, not one stopped).
Features and targets are standardised; NuSVR with fixed hyperparameters (RBF kernel,
gamma='scale', C=1, nu=0.5). The paper tunes the SVR's hyperparameters (by a search with
cross-validation, as we read it); with 8-30 training curves such a search mostly fits noise
and costs time at every refit, so they are fixed here.

Stopping rule: stop when the predicted final accuracy is below the `stop_below` quantile of
the final accuracies known so far (fully trained candidates: their measured accuracy; stopped
ones: their prediction). The paper stops a model unlikely to beat the best accuracy so far —
right for a single-objective search, too strict for a multi-objective one, where a
less-accurate but cheaper net belongs to the front. The estimator does not see the costs, so
"cannot reach the front" is approximated by "among the worst `stop_below` of candidates":
`stop_below=1` is the paper's best-so-far rule (with a point prediction where the paper, as we
read it, asks how likely an SVR ensemble's Gaussian puts the final accuracy above the best);
the default 0.25 stops only clearly poor nets. With few training curves an RBF SVR predicts
close to their mean, so `stop_below` above 0.5 with a small `min_train` stops almost all. Stopped
candidates count with their prediction, so the threshold does not ratchet upwards as the
poor ones stop contributing measured accuracies (with measured-only values it would drift
towards best-so-far, stopping ever more).

A stopped candidate reports the SVR's predicted final accuracy (clipped to [0, 1]), marked:
`extra = {"stopped_early": True, "epochs_trained": k, "predicted": p, "observed": y_k, ...}`,
and the history line carries `stopped_early`, `epochs_trained` and, once the SVR predicts,
`predicted_accuracy` (for every candidate it predicted, stopped or not). The prediction, not the
accuracy observed at the stop, because strategies and the front compare candidates with each
other: an accuracy after k of E epochs of a cosine schedule is a different, systematically
lower quantity, while the prediction estimates the same quantity as every other candidate's
accuracy; its error is what `audit` measures.

Honesty: `report()` (and `extra["summary"]` of each estimate) counts the candidates stopped
and the training epochs saved. With `audit=N`, the first N candidates that would be stopped
are trained to the end anyway: the search still gets the prediction (so a run's decisions do
not depend on `audit`) and the pair does not join the SVR's training set, but the true final
accuracy is recorded, and a stop is false when it is at or above the threshold it was stopped
against: the false-stop rate.

Deterministic under the seed: training is `scratch`'s, and libsvm's ν-SVR fit has no
randomness. Resuming a run starts the estimator afresh (replayed candidates are not
re-estimated): the first `min_train` new candidates train fully again.
"""

from __future__ import annotations

import dataclasses
import math

from hwnas.estimators.base import Estimate, Option
from hwnas.estimators.scratch import ScratchEstimator
from hwnas.limits import MAX_BUDGET, MAX_EPOCHS
from hwnas.options import option_error
from hwnas.registry import ESTIMATORS

SVR_PARAMS = {"kernel": "rbf", "gamma": "scale", "C": 1.0, "nu": 0.5}


def curve_features(curve, arch_features=()) -> list[float]:
    """The paper's features of a partial learning curve y_1..y_k: the values, their first
    differences (k-1), their second differences (k-2), then the architecture features."""
    y = [float(v) for v in curve]
    first = [b - a for a, b in zip(y, y[1:], strict=False)]
    second = [b - a for a, b in zip(first, first[1:], strict=False)]
    return y + first + second + [float(v) for v in arch_features]


@dataclasses.dataclass
class _State:
    """What the estimator has learnt so far in a search."""

    pairs_x: list = dataclasses.field(default_factory=list)  # SVR training set
    pairs_y: list = dataclasses.field(default_factory=list)
    finals: list = dataclasses.field(default_factory=list)  # for the threshold
    model: object = None  # (scaler, y_mean, y_std, svr), fitted on pairs; None when stale
    candidates: int = 0
    trained_full: int = 0
    stopped: int = 0
    epochs_trained: int = 0
    epochs_saved: int = 0
    audited: int = 0
    false_stops: int = 0


@ESTIMATORS.register("curve")
class CurveEstimator(ScratchEstimator):
    """`scratch` with learning-curve early stopping by a ν-SVR (see the module docstring)."""

    option_specs = {
        **ScratchEstimator.option_specs,
        "observe_epochs": Option(1, int, low=1, high=MAX_EPOCHS,
                                 help="epochs observed before deciding; < epochs"),
        "min_train": Option(8, int, low=2, high=MAX_BUDGET,
                            help="candidates trained fully before any stop"),
        "stop_below": Option(0.25, float, low=0, low_open=True, high=1,
                             help="stop when the prediction is below this quantile of the "
                                  "final accuracies so far (1: best so far)"),
        "audit": Option(0, int, low=0, high=MAX_BUDGET,
                        help="train the first N stopped candidates to the end too, to "
                             "measure false stops"),
        "arch_features": Option("params", str, choices=("params", "onehot"),
                                help="log10 parameter count, or also the one-hot choices"),
    }

    @classmethod
    def summary(cls, options: dict) -> str:
        """Its name alone: `epochs` is only what a candidate not stopped early trains."""
        return cls.registry_name

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        super().check_options(resolved)
        if resolved["observe_epochs"] >= resolved["epochs"]:
            raise option_error("observe_epochs", cls.owner(),
                               f"an int in [1, epochs - 1] (epochs is {resolved['epochs']})",
                               resolved["observe_epochs"])

    # -- the search-facing answer ---------------------------------------------------------

    def estimate(self, arch) -> Estimate:
        opts = self.options
        epochs, k = opts["epochs"], opts["observe_epochs"]
        state = self._state()
        arch_x = self.arch_features(arch)
        decision: dict = {}

        def on_curve(curve) -> bool:
            """Called after each observed epoch; True stops the training."""
            if len(curve) != k or decision:
                return False
            fitted = self._fitted(opts)
            if fitted is None:
                return False
            decision["predicted"] = self._predict(fitted, curve_features(curve, arch_x))
            decision["threshold"] = self.threshold()
            if decision["predicted"] >= decision["threshold"]:
                return False
            decision["stop"] = True
            decision["audit"] = state.audited < opts["audit"]
            return not decision["audit"]

        estimate, curve, trained = self._train(arch, on_curve)
        observed = list(curve[:k])
        state.candidates += 1
        state.epochs_trained += trained
        extra = {**estimate.extra, "curve": list(curve), "stopped_early": False,
                 "epochs_trained": trained}
        if "predicted" in decision:
            extra.update(predicted=decision["predicted"], threshold=decision["threshold"])
        objectives = {"stopped_early": False, "epochs_trained": trained}
        if "predicted" in decision:  # in the history too, to judge the SVR afterwards
            objectives["predicted_accuracy"] = decision["predicted"]
        if not decision.get("stop"):
            state.trained_full += 1
            state.pairs_x.append(curve_features(observed, arch_x))
            state.pairs_y.append(float(estimate.accuracy))
            state.finals.append(float(estimate.accuracy))
            state.model = None  # refit when next asked
            extra.update(objectives=objectives, summary=self.report())
            return dataclasses.replace(estimate, epochs=trained, extra=extra)
        accuracy = min(1.0, max(0.0, float(decision["predicted"])))
        state.stopped += 1
        state.finals.append(accuracy)
        extra.update(stopped_early=True, epochs_trained=k, observed=observed[-1])
        objectives.update(stopped_early=True, epochs_trained=k)
        if decision["audit"]:  # trained to the end only to measure; the search sees the stop
            false_stop = estimate.accuracy >= decision["threshold"]
            state.audited += 1
            state.false_stops += int(false_stop)
            extra["audit"] = {"final_accuracy": estimate.accuracy, "false_stop": false_stop,
                              "epochs": trained}
            objectives["audit_accuracy"] = estimate.accuracy
        else:
            state.epochs_saved += epochs - trained
        extra.update(objectives=objectives, summary=self.report())
        return dataclasses.replace(estimate, accuracy=accuracy, epochs=trained, extra=extra)

    def report(self) -> dict:
        """What early stopping did so far: counts, epochs saved, the audit's false stops."""
        s = self._state()
        spent = s.epochs_trained + s.epochs_saved
        return {"candidates": s.candidates, "trained_full": s.trained_full,
                "stopped": s.stopped, "epochs_trained": s.epochs_trained,
                "epochs_saved": s.epochs_saved,
                "epochs_saved_fraction": s.epochs_saved / spent if spent else 0.0,
                "audited": s.audited, "false_stops": s.false_stops,
                "false_stop_rate": s.false_stops / s.audited if s.audited else None,
                "svr_train_size": len(s.pairs_y),
                "threshold": self.threshold() if s.finals else None}

    def threshold(self) -> float:
        """The `stop_below` quantile (linear interpolation) of the final accuracies so far."""
        values = sorted(self._state().finals)
        q = self.options["stop_below"] * (len(values) - 1)
        lo = math.floor(q)
        hi = min(lo + 1, len(values) - 1)
        return values[lo] + (values[hi] - values[lo]) * (q - lo)

    def arch_features(self, arch) -> list[float]:
        """log10 of the parameter count, preceded with `arch_features='onehot'` by the one-hot
        of each `space.choices()` decision."""
        cache = self.__dict__.setdefault("_arch_cache", {})
        key = arch.key
        if key not in cache:
            out: list[float] = []
            choices = getattr(self.space, "choices", None)
            onehot = self.options["arch_features"] == "onehot"
            for name, options in (choices() if choices and onehot else []):
                value = arch.values.get(name)
                out.extend(1.0 if value == option else 0.0 for option in options)
            params = sum(p.numel() for p in self.space.build(arch).parameters())
            out.append(math.log10(max(params, 1)))
            cache[key] = out
        return list(cache[key])

    # -- training with a watched curve ----------------------------------------------------

    def _train(self, arch, on_curve):
        """Train as `scratch` does, calling `on_curve(curve so far)` after each of the first
        `observe_epochs` epochs; it answers True to stop there. Returns (estimate, curve,
        epochs trained); the curve ends with the final accuracy when not stopped.
        (Tests replace this with synthetic curves.)"""
        curve: list[float] = []
        watch = {"curve": curve, "on_curve": on_curve, "stopped_at": None}
        self._watch = watch
        try:
            estimate = ScratchEstimator.estimate(self, arch)
        finally:
            self._watch = None
        trained = watch["stopped_at"] or self.options["epochs"]
        if watch["stopped_at"] is None:
            curve.append(estimate.accuracy)
        return estimate, curve, trained

    def _epoch_hook(self, train_x, val_x, val_y, config):
        watch = self.__dict__.get("_watch")
        if watch is None:
            return None
        from hwnas.nn import train as nt

        observe = self.options["observe_epochs"]

        def on_epoch(epoch: int, model) -> bool:
            if epoch > observe:
                return False
            # Eval-mode accuracy with BN statistics of the current weights; training is not
            # changed by it (train-mode BN uses batch statistics, and the final
            # recalibration starts afresh), so the full run stays identical to `scratch`.
            nt.recalibrate_bn(model, train_x, config.batch_size)
            watch["curve"].append(nt.evaluate_accuracy(model, val_x, val_y))
            if watch["on_curve"](list(watch["curve"])):
                watch["stopped_at"] = epoch
                return True
            return False

        return on_epoch

    # -- the SVR --------------------------------------------------------------------------

    def _state(self) -> _State:
        return self.__dict__.setdefault("_curve_state", _State())

    def _fitted(self, opts: dict):
        """The SVR fitted on every pair so far, or None before `min_train` pairs."""
        state = self._state()
        if len(state.pairs_y) < opts["min_train"]:
            return None
        if state.model is None:
            import numpy as np
            from sklearn.preprocessing import StandardScaler
            from sklearn.svm import NuSVR

            x = np.asarray(state.pairs_x, dtype=float)
            y = np.asarray(state.pairs_y, dtype=float)
            scaler = StandardScaler().fit(x)
            y_mean, y_std = float(y.mean()), float(y.std()) or 1.0
            svr = NuSVR(**SVR_PARAMS).fit(scaler.transform(x), (y - y_mean) / y_std)
            state.model = (scaler, y_mean, y_std, svr)
        return state.model

    @staticmethod
    def _predict(fitted, features) -> float:
        import numpy as np

        scaler, y_mean, y_std, svr = fitted
        z = svr.predict(scaler.transform(np.asarray([features], dtype=float)))[0]
        return float(z * y_std + y_mean)
