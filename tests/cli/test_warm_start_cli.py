"""Issue 31, item 4 on the command line: `hwnas search --warm-start RUN` is stored with the run,
its records are written to the new history marked warm (judged under the new run's limits),
counted apart by `runs show`, never evaluated again; a run of another problem, a missing run, a
strategy that cannot take it, or `--warm-start` beside `--resume` is refused in one line (exit
2, nothing written); a warm-started run resumed replays as the whole one.

In-process through `run_app` on a synthetic benchmark of every NB201 cell (lookups, no
training)."""

from __future__ import annotations

import json

import pytest

from hwnas.core.feasibility import ruled_out
from tests.cli.test_cli_runs_fronts import OBJ, run, tabular_search
from tests.cli.test_constraint_cli import history, one_line
from tests.tabular_helpers import write_synthetic_nb201

SMALL_EVO = ("--strategy-opt", "population=6", "--strategy-opt", "sample_size=3")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return write_synthetic_nb201(tmp_path_factory.mktemp("warm") / "synthetic.csv")


@pytest.fixture(scope="module")
def old(bench, tmp_path_factory):
    from hwnas.cli import app
    from hwnas.cli.errors import run_app

    run_dir = tmp_path_factory.mktemp("warm-old") / "old"
    assert run_app(app, [str(a) for a in tabular_search(bench, run_dir, 20, "random", 7)]) == 0
    return run_dir


def test_a_warm_start_is_stored_told_never_evaluated_and_counted_apart(bench, old, tmp_path,
                                                                        capsys):
    new = tmp_path / "new"
    code, _, err = run(capsys, *tabular_search(bench, new, 10, "evolution", 1, *SMALL_EVO,
                                               "--warm-start", old))
    assert code == 0, err
    assert "warm start: 20 evaluated candidate(s) (20 from" in err
    config = json.loads((new / "config.json").read_text())
    assert config["search"]["warm_start"] == [str(old.absolute())]
    records = history(new)
    warm = [r for r in records if r.get("warm")]
    assert len(warm) == 20 and all(r["warm_from"] == str(old.absolute()) for r in warm)
    assert all("index" not in r for r in warm) and records[:20] == warm  # told first
    own = records[20:]
    assert [r["index"] for r in own] == list(range(10))
    known = {r["arch_key"] for r in warm}
    assert all(r["cached"] for r in own if r["arch_key"] in known)  # looked up, not trained
    code, out, _ = run(capsys, "runs", "show", new)
    assert code == 0 and "10 of budget 10" in out and "20 evaluated earlier" in out


def test_a_tighter_limit_rules_out_the_earlier_records_past_it(bench, old, tmp_path, capsys):
    old_records = {r["arch_key"]: r["result"] for r in history(old)}
    limit = sorted(r[OBJ] for r in old_records.values())[10]  # half of them break it
    new = tmp_path / "tight"
    code, _, err = run(capsys, *tabular_search(bench, new, 5, "nsga2", 1, "--strategy-opt",
                                               "population=4", "--constraint",
                                               f"{OBJ}<={limit}", "--warm-start", old))
    assert code == 0, err
    warm = {r["arch_key"]: r["result"] for r in history(new) if r.get("warm")}
    assert warm.keys() == old_records.keys()
    for key, result in warm.items():
        assert ruled_out(result) == (old_records[key][OBJ] > limit)
        assert ruled_out(result) or result == old_records[key]


def test_a_warm_started_run_resumed_replays_as_the_whole_one(bench, old, tmp_path, capsys):
    whole, part = tmp_path / "whole", tmp_path / "part"
    extra = (*SMALL_EVO, "--warm-start", old)
    assert run(capsys, *tabular_search(bench, whole, 12, "evolution", 2, *extra))[0] == 0
    assert run(capsys, *tabular_search(bench, part, 5, "evolution", 2, *extra))[0] == 0
    code, _, err = run(capsys, "search", "--resume", part, "--budget", 12, "--json")
    assert code == 0, err

    def keys(run_dir):  # timings aside: the same records, warm ones first, in the same order
        return [(r["arch_key"], r["result"].get("accuracy"), r.get("warm"), r.get("cached"))
                for r in history(run_dir)]

    assert keys(part) == keys(whole) and sum(bool(k[2]) for k in keys(part)) == 20


@pytest.mark.parametrize("args, needles", [
    (("--objectives", f"accuracy:cifar10,{OBJ}"), ("its objectives is",)),
    (("--method", "reinforce"), ("--method reinforce", "evolution, ")),
    (("--warm-start", "{missing}"), ("is not a run directory",)),
    (("--warm-start", "{old}"), ("is given twice",)),
])
def test_each_incompatibility_is_one_line_and_writes_nothing(bench, old, tmp_path, capsys, args,
                                                             needles):
    new = tmp_path / "refused"
    args = [a.format(missing=tmp_path / "none", old=old) for a in args]
    argv = tabular_search(bench, new, 5, "evolution", 1, "--warm-start", old)
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag in argv and flag != "--warm-start":
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    code, _, err = run(capsys, *argv)
    one_line(code, err, *needles)
    assert not new.exists()


def test_another_benchmark_file_is_refused_naming_the_option(bench, old, tmp_path, capsys):
    other = write_synthetic_nb201(tmp_path / "copy.csv")
    code, _, err = run(capsys, *tabular_search(other, tmp_path / "r", 5, "random", 1,
                                               "--warm-start", old))
    one_line(code, err, "estimator option benchmark is", f"benchmark={bench}")
    assert not (tmp_path / "r").exists()


def test_warm_start_is_refused_beside_resume(old, capsys):
    code, _, err = run(capsys, "search", "--resume", old, "--warm-start", old)
    one_line(code, err, "--warm-start does not apply with --resume")


def test_a_seeded_population_is_not_called_random_sampling(bench, old, tmp_path, capsys):
    """Evolution with population 12 and budget 10 is random sampling when cold (warned); warm
    from 20 earlier candidates its population is seeded, and every proposal is a child."""
    evo = ("--strategy-opt", "population=12", "--strategy-opt", "sample_size=3")
    code, _, err = run(capsys, *tabular_search(bench, tmp_path / "cold", 10, "evolution", 1,
                                               *evo))
    assert code == 0 and "is random sampling" in err, err
    code, _, err = run(capsys, *tabular_search(bench, tmp_path / "warm", 10, "evolution", 1,
                                               *evo, "--warm-start", old))
    assert code == 0 and "is random sampling" not in err, err
