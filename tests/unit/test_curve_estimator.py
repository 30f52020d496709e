"""The `curve` estimator: learning-curve early stopping with a ν-SVR (Baker et al. 2017).

The stopping mechanism is tested on synthetic learning curves (the training is replaced, so
no net is trained); the real training path, on digits with a tiny fake space; the whole, by an
in-process `hwnas search --estimator curve` with a tiny scratch budget.
"""

from __future__ import annotations

import math

import pytest
from torch import nn

from hwnas.arch import Arch
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.errors import BadInputError
from hwnas.estimators import Estimate
from hwnas.estimators.curve import CurveEstimator, curve_features
from hwnas.estimators.scratch import ScratchEstimator
from hwnas.registry import ESTIMATORS
from hwnas.runs import RunDir


class FakeSpace:
    """build(arch), input_shape, num_classes and choices(): a width and a depth decision."""

    def __init__(self, resolution=8, num_classes=10):
        self.input_shape = (3, resolution, resolution)
        self.num_classes = num_classes

    def choices(self):
        return [("width", (8, 16)), ("depth", (1, 2, 3))]

    def build(self, arch):
        w = int(arch.values.get("width", 16))
        return nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w),
            nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * w, self.num_classes))


def arch(i, width=16, depth=2):
    return Arch("fake", {"width": width, "depth": depth, "id": i})


# -- features ---------------------------------------------------------------------------------

def test_features_are_the_curve_its_differences_and_the_arch_features():
    x = curve_features([0.2, 0.5, 0.6, 0.65], [1.0, 0.0, 4.5])
    expected = [0.2, 0.5, 0.6, 0.65,  # the curve
                0.3, 0.1, 0.05,  # first differences
                -0.2, -0.05,  # second differences
                1.0, 0.0, 4.5]  # architecture
    assert len(x) == 4 + 3 + 2 + 3
    assert x == pytest.approx(expected)
    assert curve_features([0.3], [2.0]) == [0.3, 2.0]  # one epoch: no differences
    assert curve_features([0.3, 0.4]) == pytest.approx([0.3, 0.4, 0.1])


def test_arch_features_log_params_and_optionally_one_hot_of_the_choices():
    params = sum(p.numel() for p in FakeSpace().build(arch(0, width=8)).parameters())
    x = CurveEstimator(FakeSpace(), arch_features="onehot").arch_features(arch(0, 8, 3))
    assert x[:5] == [1.0, 0.0, 0.0, 0.0, 1.0]  # width=8 of (8, 16); depth=3 of (1, 2, 3)
    assert x[5] == pytest.approx(math.log10(params)) and len(x) == 6
    x = CurveEstimator(FakeSpace()).arch_features(arch(0, 8, 3))  # the default: compact
    assert x == [pytest.approx(math.log10(params))]


# -- the mechanism, on synthetic curves -------------------------------------------------------

POOR_EARLY = [0.10, 0.14, 0.18, 0.21]
GOOD_EARLY = [0.60, 0.74, 0.85, 0.91]


def synthetic(curves: dict):
    """A `_train` that plays the fixed curve of `arch.values["id"]` instead of training."""

    def fake_train(self, a, on_curve):
        full = curves[a.values["id"]]
        opts = self.options
        assert len(full) == opts["epochs"]
        curve = []
        for epoch, value in enumerate(full[:-1], start=1):
            curve.append(value)
            if epoch <= opts["observe_epochs"] and on_curve(list(curve)):
                return Estimate(accuracy=value, seconds=0.01, epochs=opts["epochs"]), curve, epoch
        curve.append(full[-1])
        return Estimate(accuracy=full[-1], seconds=0.01, epochs=opts["epochs"]), curve, len(full)

    return fake_train


# Three poor and three good nets to learn from, then the candidates to decide on.
TRAINING = {0: [0.10, 0.15, 0.19, 0.20], 1: [0.60, 0.75, 0.86, 0.92], 2: [0.12, 0.16, 0.20, 0.22],
            3: [0.62, 0.76, 0.88, 0.93], 4: [0.11, 0.14, 0.19, 0.21], 5: [0.58, 0.73, 0.85, 0.90]}
OPTIONS = {"epochs": 4, "observe_epochs": 2, "min_train": 6, "stop_below": 0.5}


def searched(monkeypatch, curves, order, **options):
    monkeypatch.setattr(CurveEstimator, "_train", synthetic(curves))
    est = CurveEstimator(FakeSpace(), seed=0, **{**OPTIONS, **options})
    return est, [est.estimate(arch(i)) for i in order]


def test_poor_early_curve_is_stopped_and_a_good_one_finishes(monkeypatch):
    curves = {**TRAINING, 10: POOR_EARLY, 11: GOOD_EARLY}
    est, out = searched(monkeypatch, curves, [0, 1, 2, 3, 4, 5, 10, 11])
    first = out[:6]  # the first min_train train fully, nothing predicted yet
    assert all(not e.extra["stopped_early"] and e.epochs == 4 for e in first)
    assert all("predicted" not in e.extra for e in first)
    assert [e.accuracy for e in first] == [TRAINING[i][-1] for i in range(6)]

    poor, good = out[6], out[7]
    assert poor.extra["stopped_early"] is True and poor.epochs == 2
    assert poor.extra["epochs_trained"] == 2 and poor.extra["observed"] == 0.14
    assert poor.accuracy == pytest.approx(poor.extra["predicted"])  # reports the prediction
    assert poor.extra["predicted"] < poor.extra["threshold"]
    assert poor.extra["threshold"] == pytest.approx((0.22 + 0.90) / 2)  # median of 6 finals
    assert poor.extra["objectives"] == {"stopped_early": True, "epochs_trained": 2,
                                        "predicted_accuracy": poor.extra["predicted"]}
    assert out[0].extra["objectives"] == {"stopped_early": False, "epochs_trained": 4}
    assert poor.accuracy < 0.5  # it predicts a poor net

    assert good.extra["stopped_early"] is False and good.epochs == 4
    assert good.accuracy == 0.91 and good.extra["predicted"] > good.extra["threshold"]
    assert good.extra["curve"] == GOOD_EARLY

    report = est.report()
    assert report["stopped"] == 1 and report["epochs_saved"] == 2
    assert report["trained_full"] == 7 and report["svr_train_size"] == 7  # the good one joined
    assert report["epochs_trained"] == 7 * 4 + 2
    assert report["audited"] == 0 and report["false_stop_rate"] is None
    assert good.extra["summary"] == report


def test_deterministic_and_no_stop_before_min_train(monkeypatch):
    curves = {**TRAINING, 10: POOR_EARLY, 11: GOOD_EARLY}
    _, a = searched(monkeypatch, curves, [0, 1, 2, 3, 4, 5, 10, 11])
    _, b = searched(monkeypatch, curves, [0, 1, 2, 3, 4, 5, 10, 11])
    assert [e.accuracy for e in a] == [e.accuracy for e in b]
    _, c = searched(monkeypatch, curves, [0, 1, 10], min_train=6)
    assert not any(e.extra["stopped_early"] for e in c)


def test_audit_trains_stopped_ones_to_the_end_and_counts_false_stops(monkeypatch):
    late_bloomer = [0.10, 0.15, 0.60, 0.95]  # poor early, excellent in the end: a false stop
    curves = {**TRAINING, 10: late_bloomer, 11: POOR_EARLY, 12: [0.11, 0.15, 0.19, 0.20]}
    order = [0, 1, 2, 3, 4, 5, 10, 11, 12]
    est, out = searched(monkeypatch, curves, order, audit=2)
    bloomer, poor, last = out[6:]
    for e in (bloomer, poor, last):
        assert e.extra["stopped_early"] is True and e.extra["epochs_trained"] == 2
    # The two audited ones trained to the end; the search still sees the stop.
    assert bloomer.epochs == 4 and poor.epochs == 4 and last.epochs == 2
    assert bloomer.accuracy == pytest.approx(bloomer.extra["predicted"])
    assert bloomer.extra["audit"] == {"final_accuracy": 0.95, "false_stop": True, "epochs": 4}
    assert poor.extra["audit"] == {"final_accuracy": 0.21, "false_stop": False, "epochs": 4}
    assert "audit" not in last.extra
    assert bloomer.extra["objectives"]["audit_accuracy"] == 0.95
    report = est.report()
    assert report["stopped"] == 3 and report["audited"] == 2
    assert report["false_stops"] == 1 and report["false_stop_rate"] == 0.5
    assert report["epochs_saved"] == 2  # only the stop that was not audited saved epochs
    assert report["svr_train_size"] == 6  # audited curves do not teach the SVR
    # The search's answers do not depend on the audit.
    _, plain = searched(monkeypatch, curves, order, audit=0)
    assert [e.accuracy for e in plain] == [e.accuracy for e in out]


def test_options_are_declared_and_observe_epochs_must_be_below_epochs():
    assert ESTIMATORS.get("curve") is CurveEstimator
    assert issubclass(CurveEstimator, ScratchEstimator)
    for name in ("observe_epochs", "min_train", "stop_below", "audit", "epochs", "resolution"):
        assert name in CurveEstimator.option_specs
    with pytest.raises(BadInputError, match="The 'observe_epochs' option of estimator 'curve' "
                                             r"must be an int in \[1, epochs - 1\]"):
        CurveEstimator(FakeSpace(), epochs=2, observe_epochs=2)


# -- real training ----------------------------------------------------------------------------

REAL = {"epochs": 2, "resolution": 8, "train_subset": 256, "batch_size": 32, "threads": 1}


def test_a_full_run_is_exactly_scratch_and_records_its_curve():
    a = arch(0)
    want = ScratchEstimator(FakeSpace(), seed=3, **REAL).estimate(a)
    got = CurveEstimator(FakeSpace(), seed=3, observe_epochs=1, **REAL).estimate(a)
    assert got.accuracy == want.accuracy and got.epochs == 2
    assert got.extra["train_loss"] == want.extra["train_loss"]
    assert len(got.extra["curve"]) == 2 and got.extra["curve"][-1] == want.accuracy
    assert 0.0 <= got.extra["curve"][0] <= 1.0 and got.extra["stopped_early"] is False


def test_a_real_stop_trains_only_the_observed_epochs(monkeypatch):
    a = arch(0)
    one_epoch = ScratchEstimator(FakeSpace(), seed=3, **{**REAL, "epochs": 1}).estimate(a)
    est = CurveEstimator(FakeSpace(), seed=3, observe_epochs=1, min_train=2, **REAL)
    monkeypatch.setattr(CurveEstimator, "_fitted", lambda self, opts: "fitted")
    monkeypatch.setattr(CurveEstimator, "_predict", staticmethod(lambda fitted, x: 0.05))
    est._state().finals.extend([0.5, 0.6])
    got = est.estimate(a)
    assert got.extra["stopped_early"] is True and got.epochs == 1 and got.accuracy == 0.05
    # The first epoch of a 2-epoch cosine schedule is not a 1-epoch run: just check the range.
    assert 0.0 <= got.extra["observed"] <= 1.0 and got.extra["curve"] == [got.extra["observed"]]
    assert one_epoch.epochs == 1 and est.report()["epochs_saved"] == 1


# -- end to end -------------------------------------------------------------------------------

def test_search_with_curve_records_the_stopped_flag_in_history(tmp_path, capsys):
    run_dir = tmp_path / "run"
    # stop_below=1: the paper's rule, stop below the best so far; with 2 curves to learn from
    # the SVR predicts about their mean, below the best, so every later candidate stops.
    opts = {"epochs": 2, "observe_epochs": 1, "resolution": 8, "train_subset": 128,
            "batch_size": 32, "threads": 1, "min_train": 2, "stop_below": 1.0}
    code = run_app(app, ["search", "--space", "proxyless", "--space-opt", "resolution=16",
                         "--space-opt", "width_mult=0.25", "--objectives", "accuracy,params",
                         "--method", "random", "--estimator", "curve",
                         *[f"--estimator-opt={k}={v}" for k, v in opts.items()],
                         "--budget", "4", "--seed", "0", "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert code == 0, err
    history = RunDir(run_dir).history()
    results = [r["result"] for r in history]
    assert len(results) == 4 and all("stopped_early" in r for r in results)
    assert not any(r["stopped_early"] for r in results[:2])  # min_train trained fully
    stopped = [r for r in results if r["stopped_early"]]
    assert stopped and all(r["epochs_trained"] == 1 for r in stopped)
    assert all(r["epochs_trained"] == 2 for r in results if not r["stopped_early"])
