"""Issue 38, "hints that point the right way": each refusal or note names what the user has and
what to do for what they asked, never a step they already took or one that cannot help.

In-process through `run_app`, on made-up tables and a synthetic benchmark: seconds in all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.cli.test_bad_input_catalogue import TINY_ARGS, table
from tests.tabular_helpers import write_synthetic_nb201


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def one_line(code: int, err: str) -> str:
    assert code == 2 and "\n" not in err and err.startswith("hwnas: error:"), (code, err)
    return err


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return write_synthetic_nb201(tmp_path_factory.mktemp("bench") / "synthetic.csv")


def tabular(benchmark, run_dir, budget, objectives, *extra) -> list:
    return ["search", "--space", "nb201", "--estimator", "tabular", "--estimator-opt",
            f"benchmark={benchmark}", "--objectives", objectives, "--method", "random",
            "--budget", budget, "--run-dir", run_dir, *extra]


# -- a table made for another space, or other options ------------------------------------------
def test_a_table_of_another_space_names_it_and_profiles_the_one_asked(tmp_path, capsys):
    table()(tmp_path)  # proxyless at resolution 16, width 0.25
    code, _, err = run(capsys, "search", "--space", "nb201", "--table", tmp_path / "t.json",
                       "--run-dir", tmp_path / "run")
    err = one_line(code, err)
    assert "was made for space proxyless (resolution=16, width_mult=0.25)" in err
    assert "not space nb201" in err
    assert "`hwnas profile --space nb201 --backend ort-cpu --threads 1`" in err
    assert "tables fill" not in err and "--space proxyless" not in err  # what it already has
    assert not (tmp_path / "run").exists()


def test_a_table_of_other_options_names_them_and_profiles_the_ones_asked(tmp_path, capsys):
    table()(tmp_path)
    code, _, err = run(capsys, "search", "--table", tmp_path / "t.json", "--space-opt",
                       "resolution=32", "--space-opt", "width_mult=0.25",
                       "--run-dir", tmp_path / "run")
    err = one_line(code, err)
    assert "was made for proxyless with resolution=16, not resolution=32" in err
    # resolution=32 is the space's default, so `hwnas profile` needs only the width
    assert "`hwnas profile --space proxyless --space-opt width_mult=0.25 --backend ort-cpu " \
           "--threads 1`" in err
    assert "tables fill" not in err and "resolution=16 --" not in err


# -- one objective syntax for `search` and `bench` ---------------------------------------------
def test_search_takes_bench_objectives_and_runs_show_names_the_column(synthetic, tmp_path,
                                                                      capsys):
    from hwnas.api.bench import prepare_bench
    from hwnas.arch import Arch
    from hwnas.tabular.benchmark import BenchmarkTable

    objectives = "accuracy:cifar10,latency:pixel3"
    code, _, err = run(capsys, *tabular(synthetic, tmp_path / "r", 4, objectives), "--json")
    assert code == 0, err
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["search"]["objectives"] == ["accuracy:cifar10", "latency:pixel3"]
    assert config["search"]["estimator_options"]["accuracy"] == "accuracy:cifar10"
    # the same meaning as in `hwnas bench`: the benchmark's CIFAR-10 column, looked up
    bench = BenchmarkTable.load(synthetic)
    plan = prepare_bench(synthetic, objectives, methods="random", out=str(tmp_path / "b"))
    assert [o.name for o in plan.problem.objectives] == config["search"]["objectives"]
    for line in (tmp_path / "r" / "history.jsonl").read_text().splitlines():
        record = json.loads(line)
        row = bench.row_of(Arch.from_dict(record["arch"]))
        assert record["result"]["accuracy:cifar10"] == pytest.approx(
            bench.objective_values("accuracy:cifar10")[row])
        assert record["result"]["latency:pixel3"] == pytest.approx(
            bench.objective_values("latency:pixel3")[row])
    code, out, err = run(capsys, "runs", "show", tmp_path / "r")
    assert code == 0, err
    words = " ".join(out.split())
    assert "accuracy:cifar10: column nats_c10_test_acc_200ep of" in words
    assert "digits" not in words  # the dataset a benchmark run never trained on
    code, out, _ = run(capsys, "runs", "show", tmp_path / "r", "--json")
    assert json.loads(out)["benchmark"]["column"] == "nats_c10_test_acc_200ep"


def test_an_objective_the_estimator_options_contradict_names_the_options(synthetic, tmp_path,
                                                                        capsys):
    code, _, err = run(capsys, *tabular(synthetic, tmp_path / "r", 4,
                                        "accuracy:cifar10,latency:pixel3"),
                       "--estimator-opt", "costs=latency:pixel3", "--estimator-opt",
                       "accuracy=nats_c10_test_acc_200ep")
    err = one_line(code, err)
    assert "'nats_c10_test_acc_200ep' as its accuracy" in err
    assert "drop --estimator-opt accuracy=/costs=" in err
    assert "--estimator tabular" not in err  # the step the user already took
    assert not (tmp_path / "r").exists()


# -- option names: synonyms before spellings ---------------------------------------------------
@pytest.mark.parametrize("method, given, meant", [
    ("evolution", "popsize", "population"), ("evolution", "pop_size", "population"),
    ("nsga2", "popsize", "population"), ("evolution", "tournament_size", "sample_size"),
])
def test_a_synonym_suggests_the_option_it_means(synthetic, tmp_path, capsys, method, given,
                                                meant):
    argv = tabular(synthetic, tmp_path / "r", 4, "accuracy,latency:pixel3",
                   "--strategy-opt", f"{given}=10")
    argv[argv.index("random")] = method
    err = one_line(*run(capsys, *argv)[::2])
    assert f"unknown option {given!r}" in err and f"did you mean {meant!r}?" in err


def test_a_one_shot_flag_on_a_sampling_method_says_whose_flag_it_is(synthetic, tmp_path,
                                                                    capsys):
    argv = tabular(synthetic, tmp_path / "r", 4, "accuracy,latency:pixel3")
    argv[argv.index("random")] = "evolution"
    err = one_line(*run(capsys, *argv, "--sweep", "lambda=0,0.5")[::2])
    assert err.startswith("hwnas: error: --sweep is for the one-shot methods")
    assert "proxyless" in err and "unknown option" not in err
    err = one_line(*run(capsys, *tabular(synthetic, tmp_path / "r", 4,
                                         "accuracy,latency:pixel3"), "--target-ms", "3")[::2])
    assert err.startswith("hwnas: error: --target-ms is for the methods that hold a latency "
                          "target") and "--method random takes no target_ms" in err
    assert not (tmp_path / "r").exists()


# -- what is shown: no `schema None`, `threads None`, `last candidate None` --------------------
def test_tables_show_of_a_run_config_names_the_runs_table(tmp_path, capsys):
    table()(tmp_path)
    code, _, err = run(capsys, "search", "--table", tmp_path / "t.json", *TINY_ARGS,
                       "--method", "random", "--budget", "1", "--estimator-opt", "epochs=1",
                       "--estimator-opt", "train_subset=64", "--estimator-opt", "resolution=8",
                       "--keep-weights", "none", "--run-dir", tmp_path / "run", "--json")
    assert code == 0, err
    err = one_line(*run(capsys, "tables", "show", tmp_path / "run" / "config.json")[::2])
    assert "is a run's configuration, not a latency table" in err and "None" not in err
    assert f"`hwnas tables show {tmp_path / 't.json'}`" in err


def test_tables_show_says_unpinned_threads(tmp_path, capsys):
    table(threads=None)(tmp_path)
    code, out, err = run(capsys, "tables", "show", tmp_path / "t.json")
    assert code == 0, err
    assert "threads unpinned" in " ".join(out.split()) and "None" not in out


def test_runs_show_of_a_run_without_candidates(synthetic, tmp_path, capsys):
    code, _, err = run(capsys, *tabular(synthetic, tmp_path / "r", 2, "accuracy,latency:pixel3"),
                       "--json")
    assert code == 0, err
    (tmp_path / "r" / "history.jsonl").write_text("")  # as a run killed before its first
    code, out, err = run(capsys, "runs", "show", tmp_path / "r")
    assert code == 0, err
    assert "last candidate none yet" in " ".join(out.split()) and "None" not in out


def test_a_warning_has_one_prefix(synthetic, tmp_path, capsys):
    argv = tabular(synthetic, tmp_path / "r", 5, "accuracy,latency:pixel3", "--json")
    argv[argv.index("random")] = "evolution"  # population 50 covers the budget: a warning
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert "hwnas: warning: " in err and "note: warning" not in err
