"""Failed candidates end to end, on the default data (digits) with a tiny scratch budget: the
search finishes its budget, the failure is recorded with its reason, the front leaves it out,
`hwnas pareto` and `hwnas runs` count it, and `hwnas export` refuses it.

In-process (api and `run_app`), not in a subprocess: each subprocess pays for importing torch.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from hwnas import api
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.errors import BadInputError
from hwnas.estimators.scratch import ScratchEstimator
from hwnas.runs import RunDir
from hwnas.searching.config import SearchConfig

TINY = {"resolution": 16, "width_mult": 0.25}
# 8 steps of 32 images: enough for lr=1e6 to reach a NaN loss (2 steps of 64 only blow the
# weights up to huge finite values); a healthy lr trains these in well under a second.
FAST = {"epochs": 1, "resolution": 8, "train_subset": 256, "batch_size": 32, "threads": 1}
FAST_ARGS = [f"--estimator-opt={k}={v}" for k, v in FAST.items()]
SPACE_ARGS = [f"--space-opt={k}={v}" for k, v in TINY.items()]


def config(run_dir, **estimator) -> SearchConfig:
    return SearchConfig(table="", space="proxyless", space_config=dict(TINY), strategy="random",
                        estimator_options={**FAST, **estimator},
                        objectives=["accuracy", "params"], budget=3, run_dir=str(run_dir),
                        keep_weights="all")


def one_candidate_goes_wrong(monkeypatch, wrong):
    """The second estimate is run by `wrong(estimator, arch, real_estimate)`; returns its key."""
    real, calls = ScratchEstimator.estimate, []

    def estimate(self, arch):
        calls.append(arch.key)
        return wrong(self, arch, real) if len(calls) == 2 else real(self, arch)

    monkeypatch.setattr(ScratchEstimator, "estimate", estimate)
    return calls


def with_huge_lr(estimator, arch, real):
    """The real training of this one candidate at lr=1e6."""
    options = estimator.options
    estimator.options = {**options, "lr": 1e6}
    try:
        return real(estimator, arch)
    finally:
        estimator.options = options


def records(run_dir) -> list[dict]:
    return RunDir(run_dir).history()


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err.strip()


@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    """A run of 3 whose second candidate trains at lr=1e6."""
    run_dir = tmp_path_factory.mktemp("failed") / "mixed"
    with pytest.MonkeyPatch.context() as mp:
        calls = one_candidate_goes_wrong(mp, with_huge_lr)
        api.search(config(run_dir))
    return run_dir, calls[1]


def test_the_diverged_candidate_is_recorded_failed_and_the_budget_finished(diverged):
    run_dir, victim = diverged
    history = records(run_dir)
    assert [r["index"] for r in history] == [0, 1, 2]
    failed = [r for r in history if r["arch_key"] == victim]
    assert len(failed) == 1 and list(failed[0]["result"]) == ["failed"]
    assert failed[0]["result"]["failed"].startswith("diverged: loss became nan at epoch 1 step ")
    others = [r["result"] for r in history if r["arch_key"] != victim]
    assert all(r["accuracy"] > 0.2 and r["params"] > 0 for r in others)  # really trained
    assert not RunDir(run_dir).weights_path(victim).exists()  # nothing kept of it


def test_the_front_leaves_it_out_and_counts_it(diverged, capsys):
    run_dir, victim = diverged
    written = json.loads((run_dir / "pareto.json").read_text())
    assert victim not in {r["arch_key"] for r in written["front"]}
    assert written["n_points"] == 2 and written["failed"] == 1
    assert [(f["kind"], f["count"]) for f in written["failures"]] == [("diverged", 1)]
    code, out, _ = cli(capsys, "pareto", run_dir, "--plot", run_dir / "again.png")
    assert code == 0 and "(1 more failed)" in out
    assert f"{run_dir.name}: 1 failed: diverged: loss became nan" in " ".join(out.split())


def test_export_refuses_the_failed_candidate_in_one_line(diverged, capsys):
    run_dir, victim = diverged
    code, _, err = cli(capsys, "export", run_dir, "--arch", victim)
    assert code == 2 and "\n" not in err
    assert f"candidate {victim} of run {run_dir} failed (diverged: loss became nan" in err
    assert f"`hwnas pareto {run_dir}`" in err
    assert not (run_dir / "exports").exists()


def test_export_refuses_nan_weights_a_run_kept(diverged, tmp_path):
    """Weights holding NaN are refused whatever made them (here: written as a finished final
    training, the weights export would otherwise ship)."""
    from hwnas.fileio import atomic_write_json
    from hwnas.trained import TrainedDir

    run_dir = tmp_path / "old"
    shutil.copytree(diverged[0], run_dir)
    run = RunDir(run_dir)
    key = next(r["arch_key"] for r in run.history() if "failed" not in r["result"])
    state = run.load_weights(key)
    trained = TrainedDir(run_dir, key)
    trained.save_weights({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                          for k, v in state.items()})
    atomic_write_json(trained.metrics_path, {"test_accuracy": 0.9, "epochs": 1})
    with pytest.raises(BadInputError) as info:
        api.export(run_dir, arch_key=key)
    message = str(info.value)
    assert f"trained weights of candidate {key} of run {run_dir} hold NaN or inf" in message
    assert f"`hwnas pareto {run_dir}`" in message and not (run_dir / "exports").exists()


def test_an_exception_in_one_candidate_does_not_end_the_search(tmp_path, monkeypatch):
    def missing(estimator, arch, real):
        raise KeyError(f"benchmark has no value for {arch.key}")

    calls = one_candidate_goes_wrong(monkeypatch, missing)
    api.search(config(tmp_path / "run"))
    history = records(tmp_path / "run")
    assert len(calls) == 3 and [r["arch_key"] for r in history] == calls
    assert history[1]["result"] == {"failed": f"KeyError: 'benchmark has no value for "
                                              f"{calls[1]}'"}
    assert all("accuracy" in r["result"] for r in (history[0], history[2]))


def test_lr_1e6_for_every_candidate_ends_with_no_front_and_says_why(tmp_path, capsys):
    """The finding as reported: `--estimator-opt lr=1e6`. Every candidate is recorded failed;
    the search says there is no front (exit 1, one line) instead of ranking chance-level NaN
    nets; export finds nothing to export; `hwnas runs` shows it all."""
    run_dir = tmp_path / "runs" / "all-nan"
    code, _, err = cli(capsys, "search", *SPACE_ARGS, "--objectives", "accuracy,params",
                       "--method", "random", *FAST_ARGS, "--estimator-opt", "lr=1e6",
                       "--budget", "2", "--run-dir", run_dir, "--json")
    *notes, err = err.splitlines()  # notes first (the proxy's resolution), then one error line
    assert code == 1 and all(n.startswith("hwnas: note:") for n in notes)
    assert f"run {run_dir} has no candidate that succeeded, so no front: 2 failed: " in err
    assert "diverged" in err
    history = records(run_dir)
    assert len(history) == 2 and all(list(r["result"]) == ["failed"] for r in history)
    assert not (run_dir / "pareto.json").exists()
    code, _, err = cli(capsys, "export", run_dir)
    assert code == 2 and "has no candidate that succeeded, nothing to export (2 failed:" in err
    code, out, _ = cli(capsys, "runs", run_dir.parent, "--json")
    [entry] = json.loads(out)["runs"]
    assert (entry["candidates"], entry["budget"], entry["failed"]) == (2, 2, 2)
    assert entry["front_written"] is False and entry["failures"][0]["kind"] == "diverged"
