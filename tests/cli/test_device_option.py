"""`device`, the option of every plug-in that trains on a torch device (the one-shot and
weight-sharing strategies, the `scratch` and `shared` estimators): one declaration and one check
(hwnas.devices). A value torch cannot train on, or a GPU this machine lacks, is one line, exit 2,
before config.json, history.jsonl or the lock are written. `device=banana` on darts once got as
far as the first supernet and ended in an internal error, with the run directory written."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwnas.devices import Device, check_device
from hwnas.errors import BadInputError
from hwnas.registry import ESTIMATORS, STRATEGIES
from tests.cli.test_bad_input_catalogue import assert_refused, snapshot
from tests.tabular_helpers import write_synthetic_nb201


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> Path:
    """Every nb201 cell: with it a darts search passes every other check (the fixture's 295
    rows would be refused first, for not covering the space)."""
    return write_synthetic_nb201(tmp_path_factory.mktemp("bench") / "synthetic.csv")


def oneshot(benchmark: Path, method: str) -> list[str]:
    return ["search", "--space", "nb201", "--estimator", "tabular", "--estimator-opt",
            f"benchmark={benchmark}", "--objectives", "accuracy,latency:pixel3",
            "--method", method, "--run-dir", "run"]


TRAINED = ["search", "--space", "proxyless", "--objectives", "accuracy,params",
           "--method", "random", "--budget", "2", "--run-dir", "run"]


def refuse(capsys, tmp_path, monkeypatch, argv: list[str], *needles: str) -> None:
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    assert_refused(capsys, argv, *needles)
    assert snapshot(tmp_path) == before  # no run directory, config, history or lock


def test_every_device_option_is_the_one_declaration():
    with_device = {f"{kind} {name}" for kind, registry in (("strategy", STRATEGIES),
                                                           ("estimator", ESTIMATORS))
                   for name in registry.names()
                   if "device" in registry.get(name).option_specs}
    assert {"strategy darts", "strategy proxyless", "strategy spos", "strategy enas",
            "estimator scratch", "estimator shared"} <= with_device
    for kind, registry in (("strategy", STRATEGIES), ("estimator", ESTIMATORS)):
        for name in registry.names():
            spec = registry.get(name).option_specs.get("device")
            assert spec is None or isinstance(spec, Device), (kind, name)


@pytest.mark.parametrize("method", ["darts", "proxyless", "spos"])
def test_a_strategy_refuses_a_device_torch_cannot_train_on(benchmark, method, capsys, tmp_path,
                                                          monkeypatch):
    refuse(capsys, tmp_path, monkeypatch,
           [*oneshot(benchmark, method), "--strategy-opt", "device=banana"],
           f"The 'device' option of strategy {method!r} must be 'cpu', 'cuda' or 'cuda:N' for "
           "GPU N. Got 'banana' instead.")


@pytest.mark.parametrize("estimator, value", [("scratch", "mps"), ("shared", "cuda:x")])
def test_an_estimator_refuses_a_device_torch_cannot_train_on(estimator, value, capsys, tmp_path,
                                                            monkeypatch):
    refuse(capsys, tmp_path, monkeypatch,
           [*TRAINED, "--estimator", estimator, "--estimator-opt", f"device={value}"],
           f"The 'device' option of estimator {estimator!r} must be 'cpu', 'cuda' or 'cuda:N'",
           f"Got {value!r} instead.")


def no_gpu(monkeypatch) -> None:
    """This machine as a CPU-only one, whether or not it has a GPU."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_cuda_on_a_machine_without_a_gpu_is_refused_before_anything_is_written(
        benchmark, capsys, tmp_path, monkeypatch):
    no_gpu(monkeypatch)
    refuse(capsys, tmp_path, monkeypatch,
           [*oneshot(benchmark, "darts"), "--strategy-opt", "device=cuda"],
           "The 'device' option of strategy 'darts' must be 'cpu' here (torch finds no CUDA "
           "device on this machine). Got 'cuda' instead.")
    refuse(capsys, tmp_path, monkeypatch,
           [*TRAINED, "--estimator-opt", "device=cuda:0"],
           "The 'device' option of estimator 'scratch' must be 'cpu' here")


def test_a_gpu_index_past_the_last_names_the_ones_there(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for value in ("cpu", "cuda", "cuda:0", "cuda:1"):
        check_device(value, "strategy 'darts'")
    with pytest.raises(BadInputError, match=r"must be 'cpu' or one of 'cuda:0', 'cuda:1' here "
                                            r"\(this machine has 2 CUDA devices\)\. Got "
                                            r"'cuda:2' instead\.$"):
        check_device("cuda:2", "strategy 'darts'")


@pytest.mark.gpu
def test_the_gpus_of_this_machine_are_accepted_and_one_past_them_refused():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    count = torch.cuda.device_count()
    for value in ("cuda", *(f"cuda:{i}" for i in range(count))):
        check_device(value, "estimator 'scratch'")
    with pytest.raises(BadInputError, match=rf"Got 'cuda:{count}' instead\.$"):
        check_device(f"cuda:{count}", "estimator 'scratch'")
