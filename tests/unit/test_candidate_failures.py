"""A failed candidate, piece by piece: its result, the evaluator that records it instead of
raising, the training that detects divergence, the strategy helpers that rank it last, and the
export that refuses NaN weights and never calls NaN outputs a perfect parity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from hwnas.arch import Arch
from hwnas.core.failure import (
    failed_result,
    failures_line,
    is_failed,
    reason_of,
    summarize_failures,
)
from hwnas.errors import BadInputError, CandidateFailed, HwnasRuntimeError
from hwnas.estimators import Estimate
from hwnas.evaluation.evaluators.base import evaluate_candidate
from hwnas.evaluation.evaluators.local import LocalEvaluator
from hwnas.nn.train import CHECK_EVERY, TrainConfig, train
from hwnas.objectives import parse_objectives
from hwnas.registry import SPACES
from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.strategies.evolution import AgingEvolution
from hwnas.tables.export import export_arch
from tests.unit.test_scratch_estimator import ARCH, FakeSpace, _estimate

OBJ = parse_objectives("accuracy,latency_ms")


# -- the result ----------------------------------------------------------------------------
def test_a_failed_result_is_one_key_one_line():
    result = failed_result("Traceback\n  line one\n" + "x" * 1000)
    assert list(result) == ["failed"] and "\n" not in result["failed"]
    assert len(result["failed"]) == 300 and result["failed"].endswith("...")
    assert is_failed(result) and not is_failed({"accuracy": 0.5}) and not is_failed(None)


def test_reasons_name_the_exception_unless_it_is_already_a_reason():
    assert reason_of(KeyError("row 17")) == "KeyError: 'row 17'"
    assert reason_of(CandidateFailed("diverged: loss became nan at epoch 1 step 2")) == \
        "diverged: loss became nan at epoch 1 step 2"


def test_failures_are_summarised_by_kind_most_common_first():
    results = [failed_result("diverged: loss became nan at epoch 1 step 2"),
               failed_result("diverged: loss became inf at epoch 2 step 1"),
               failed_result("KeyError: 'row 17'"), {"accuracy": 0.9}]
    summary = summarize_failures(results)
    assert summary["failed"] == 3
    assert [(r["kind"], r["count"]) for r in summary["reasons"]] == [("diverged", 2),
                                                                     ("KeyError", 1)]
    # a kind whose reasons differ is named by its kind; a single reason is shown whole
    assert failures_line(summary) == "3 failed: diverged (2), KeyError: 'row 17' (1)"


# -- the evaluator -------------------------------------------------------------------------
class ScriptedScorer:
    """Scores archs by key from a script: a dict result, or an exception to raise."""

    def __init__(self, script: dict):
        self.script = script
        self.asked: list[str] = []

    def evaluate(self, arch):
        self.asked.append(arch.key)
        outcome = self.script[arch.values["i"]]
        if isinstance(outcome, BaseException):
            raise outcome
        return dict(outcome), Estimate(0.5, 0.0, 1, state_dict={"w": torch.zeros(1)})


def _local(script) -> LocalEvaluator:
    evaluator = object.__new__(LocalEvaluator)  # the scorer is what is under test
    evaluator.scorer = ScriptedScorer(script)
    return evaluator


def _archs(n):
    return [Arch("fake", {"i": i}) for i in range(n)]


def test_one_failing_candidate_is_recorded_and_the_next_is_evaluated():
    good = {"accuracy": 0.9, "latency_ms": 1.0}
    evaluator = _local({0: KeyError("no value for row 3"),
                        1: torch.cuda.OutOfMemoryError("CUDA out of memory"),
                        2: {"accuracy": float("nan"), "latency_ms": 1.0},
                        3: {"accuracy": 0.9, "latency_ms": float("inf")}, 4: good})
    outcomes = evaluator.map(_archs(5))
    assert evaluator.scorer.asked == [a.key for a in _archs(5)]
    assert [o.result for o in outcomes] == [
        {"failed": "KeyError: 'no value for row 3'"},
        {"failed": "OutOfMemoryError: CUDA out of memory"},
        {"failed": "non-finite result: accuracy=nan"},
        {"failed": "non-finite result: latency_ms=inf"}, good]
    assert [o.state_dict is None for o in outcomes] == [True] * 4 + [False]
    assert all(o.seconds >= 0 for o in outcomes)


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), SystemExit(3)])
def test_an_interrupt_still_stops_the_run(stop):
    with pytest.raises(type(stop)):
        evaluate_candidate(ScriptedScorer({0: stop}), _archs(1)[0])


# -- training ------------------------------------------------------------------------------
class PoisonAt(nn.Module):
    """A linear model whose output becomes NaN from its `at`-th training forward on."""

    def __init__(self, at: int):
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.at, self.calls = at, 0

    def forward(self, x):
        self.calls += 1
        out = self.linear(x)
        return out * float("nan") if self.calls >= self.at else out


def test_train_names_the_first_non_finite_step_and_stops_soon_after():
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    model = PoisonAt(at=21)  # 8 steps per epoch: epoch 3, step 5
    result = train(model, x, y, TrainConfig(epochs=40, batch_size=8, lr=0.1),
                   torch.Generator().manual_seed(0))
    assert (result.diverged, result.epoch, result.step) == (True, 3, 5)
    assert math.isnan(result.loss)
    assert result.divergence() == "diverged: loss became nan at epoch 3 step 5"
    assert model.calls <= 3 * 8 < 40 * 8  # stopped at that epoch's end, not after 40 epochs
    long = PoisonAt(at=3)  # one long epoch: stopped after CHECK_EVERY steps, not 64
    result = train(long, x.repeat(8, 1), y.repeat(8), TrainConfig(1, 8, 0.1),
                   torch.Generator().manual_seed(0))
    assert (result.epoch, result.step) == (1, 3) and long.calls == CHECK_EVERY


def test_a_loss_sum_that_overflows_is_an_inf_loss_not_a_crash():
    from hwnas.nn.train import _diverged

    # every step finite, their float32 sum not: no first bad step to name but the last seen
    result = _diverged(torch.tensor([3e38, 3e38]), epoch=0)
    assert (result.loss, result.diverged, result.epoch, result.step) == (math.inf, True, 1, 2)


class InfBuffer(FakeSpace):
    """A net that trains fine but carries a non-finite buffer: weights that cannot be kept."""

    def build(self, arch):
        model = super().build(arch)
        model.register_buffer("scale", torch.tensor(float("inf")))
        return model


def test_scratch_refuses_non_finite_weights_after_training():
    from hwnas.estimators.scratch import ScratchEstimator

    with pytest.raises(CandidateFailed, match="^non-finite weights after training$"):
        ScratchEstimator(InfBuffer(), epochs=1, train_subset=100, threads=1).estimate(ARCH)
    assert _estimate(epochs=1, train_subset=100).accuracy > 0  # the same net without it


# -- strategy helpers ----------------------------------------------------------------------
def test_objective_vector_is_min_form_and_worst_for_a_failure():
    evo = AgingEvolution(ProxylessSpace(), OBJ, seed=0)
    np.testing.assert_array_equal(evo.objective_vector({"accuracy": 0.9, "latency_ms": 2.0}),
                                  [-0.9, 2.0])
    assert np.isposinf(evo.objective_vector(failed_result("x"))).all()


@pytest.mark.parametrize("options", [{}, {"fitness": "mnasnet", "target_ms": 1.0}])
def test_best_index_never_picks_a_failure(options):
    evo = AgingEvolution(ProxylessSpace(), OBJ, seed=0, **options)
    results = [failed_result("x"), {"accuracy": 0.2, "latency_ms": 5.0}, failed_result("y")]
    assert {evo.best_index(results) for _ in range(20)} == {1}
    assert evo.best_index([failed_result("x"), failed_result("y")]) is None


def test_evolution_samples_afresh_when_a_whole_tournament_failed():
    evo = AgingEvolution(ProxylessSpace(), OBJ, seed=0, population=3, sample_size=3)
    first = evo.ask(3)
    evo.tell(first, [failed_result("x")] * 3)
    mutated = []
    evo.mutate = lambda arch: mutated.append(arch) or arch
    assert len(evo.ask(4)) == 4 and mutated == []


# -- export --------------------------------------------------------------------------------
def _nb201():
    space = SPACES.get("nb201")(C=8, N=1, resolution=16)
    return space, space.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|"
                                    "nor_conv_3x3~0|none~1|nor_conv_3x3~2|")


def test_export_refuses_nan_weights_before_writing(tmp_path):
    space, arch = _nb201()
    state = {k: v.clone() for k, v in space.build(arch).state_dict().items()}
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first].fill_(float("nan"))
    with pytest.raises(BadInputError, match=f"hold NaN or inf values in 1 tensor.*{first}"):
        export_arch(space, arch, tmp_path / "m.onnx", state_dict=state, threads=1,
                    weights="trained")
    assert not (tmp_path / "m.onnx").exists()


def test_nan_outputs_fail_parity_instead_of_a_zero_difference(tmp_path):
    """Finite weights, NaN outputs (a negative BN variance): `max(0.0, nan)` is 0.0, which
    once reported a parity of 0.00e+00 for a model whose every output was NaN."""
    space, arch = _nb201()
    model = space.build(arch)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for name, value in state.items():
        if name.endswith("running_var"):
            value.fill_(-1.0)
    with pytest.raises(HwnasRuntimeError, match="outputs NaN or inf.*not written"):
        export_arch(space, arch, tmp_path / "m.onnx", state_dict=state, threads=1,
                    weights="trained")
    assert not (tmp_path / "m.onnx").exists()


def test_a_finite_divergence_is_a_divergence():
    """Weights blown up without a NaN (a learning rate far too large): the network guesses, and
    the candidate is recorded as diverged, not put on the front with chance accuracy."""
    import numpy as np
    import torch

    from hwnas.api.common import build_space
    from hwnas.nn import train as nt

    space = build_space("proxyless", {"resolution": 16, "width_mult": 0.25})
    arch = space.sample(np.random.default_rng(0))
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 3, 16, 16, generator=gen), torch.randint(0, 10, (128,), generator=gen)
    results = {}
    for lr in (0.2, 100.0):
        torch.manual_seed(0)
        model = space.build(arch)
        results[lr] = nt.train(model, x, y, nt.TrainConfig(2, 64, lr), torch.Generator())
    assert not results[0.2].diverged
    bad = results[100.0]
    assert bad.diverged and bad.loss == bad.loss  # finite, yet diverged
    assert bad.divergence().startswith("diverged: ")
    assert "weight reached" in bad.divergence() or "uniform guess" in bad.divergence()


def test_blown_up_names_weights_and_a_loss_above_chance():
    import torch

    from hwnas.nn.train import blown_up

    model = torch.nn.Linear(4, 10)
    with torch.no_grad():
        model.weight.fill_(0.1)
    assert blown_up(model, 1.0, 10) is None
    assert "uniform guess" in blown_up(model, 5.0, 10)  # log(10) = 2.30; 5.0 > 2 x 2.30
    with torch.no_grad():
        model.weight[0, 0] = 7.8e33
    assert "7.8e+33" in blown_up(model, 1.0, 10)
