"""hwnas.nn.train: the batching, schedule, loop and guards shared by scratch and supernets."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hwnas.nn.train import (
    TrainConfig,
    batches,
    cosine_lr,
    deterministic_cudnn,
    evaluate_accuracy,
    forked_rng,
    recalibrate_bn,
    sgd,
    torch_threads,
    train,
)


def _spans(n, batch_size):
    return [(s.start, s.stop) for s in batches(n, batch_size)]


@pytest.mark.parametrize("n, batch_size, expected", [
    (128, 64, [(0, 64), (64, 128)]),
    (130, 64, [(0, 64), (64, 128), (128, 130)]),
    (129, 64, [(0, 64), (64, 128)]),  # a 1-sample last batch would break BatchNorm
    (3, 1, [(0, 1), (1, 2)]),
    (1, 64, [(0, 1)]),  # ... unless it is the only batch
    (0, 8, []),
])
def test_batches_cover_in_order_and_drop_a_lone_last_sample(n, batch_size, expected):
    assert _spans(n, batch_size) == expected


def test_cosine_lr_runs_from_base_to_zero():
    assert cosine_lr(0.2, 0, 10) == 0.2
    assert cosine_lr(0.2, 5, 10) == pytest.approx(0.1)
    assert cosine_lr(0.2, 10, 10) == pytest.approx(0.0, abs=1e-15)
    values = [cosine_lr(1.0, s, 20) for s in range(21)]
    assert values == sorted(values, reverse=True)


def _blobs(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 4, generator=g) + 3.0 * y[:, None].float()
    return x, y


def _net():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def test_train_learns_separable_data_and_repeats_bit_for_bit():
    x, y = _blobs()
    config = TrainConfig(epochs=3, batch_size=32, lr=0.1)
    results, accuracies = [], []
    for _ in range(2):
        torch.manual_seed(0)
        model = _net()
        results.append(train(model, x, y, config, torch.Generator().manual_seed(0)))
        recalibrate_bn(model, x, config.batch_size)
        accuracies.append(evaluate_accuracy(model, x, y))
    assert results[0] == results[1] and accuracies[0] == accuracies[1]
    assert not results[0].diverged and 0 < results[0].loss < math.log(2)
    assert accuracies[0] > 0.95


def test_train_stops_at_the_first_non_finite_epoch():
    x, y = _blobs()
    torch.manual_seed(0)
    result = train(_net(), x, y, TrainConfig(epochs=50, batch_size=32, lr=1e12),
                   torch.Generator().manual_seed(0))
    assert result.diverged and not math.isfinite(result.loss)


def test_sgd_is_the_recipe():
    opt = sgd(_net().parameters(), TrainConfig(epochs=1, batch_size=8, lr=0.3, weight_decay=0.01))
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == \
        (0.3, 0.9, True, 0.01)


def test_recalibrate_bn_averages_the_batches_it_uses():
    x = torch.randn(129, 3, generator=torch.Generator().manual_seed(1))
    bn = nn.BatchNorm1d(3)
    bn.running_mean.fill_(5.0)  # stale statistics are replaced, not blended
    recalibrate_bn(bn, x, 64)
    torch.testing.assert_close(bn.running_mean, x[:128].mean(0))  # the lone 129th is left out
    assert bn.momentum == 0.1 and bn.training


def test_evaluate_accuracy_is_an_exact_ratio_over_all_batches():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    x = torch.tensor([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 2)
    y = torch.tensor([0, 0, 0, 1, 1, 1, 0])
    assert evaluate_accuracy(model, x, y, batch_size=3) == 4 / 7
    assert not model.training


def test_guards_restore_threads_rng_and_cudnn_flags():
    threads = torch.get_num_threads()
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    with torch_threads(1), forked_rng(torch.device("cpu")), \
            deterministic_cudnn(torch.device("cpu")):
        assert torch.get_num_threads() == 1
        torch.manual_seed(123)
        torch.rand(5)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.rand(2), expected)
    assert (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark) == flags
    with torch_threads(None):
        assert torch.get_num_threads() == threads
