"""`hwnas search --method ofa --table A --table B`: one supernet trained once, one run per table,
the later runs searching the first one's supernet under their own table; several tables with
another method, a table twice, or a supernet given beside them are one line, nothing written."""

from __future__ import annotations

import json

import pytest

from hwnas.arch import Arch
from hwnas.latency.table import LatencyTable
from hwnas.spaces.proxyless import ProxylessSpace
from tests.cli.helpers import assert_one_line_error, hwnas

SPACE = {"resolution": 16, "width_mult": 0.25, "num_classes": 10}
TINY = ("--space", "proxyless", "--space-opt", "resolution=16", "--space-opt", "width_mult=0.25")
SUBSET = ("--strategy-opt", "train_subset=96")
FAST = ("--strategy-opt", "epochs=1", "--strategy-opt", "resolution=8",
        "--strategy-opt", "threads=1",
        "--strategy-opt", "population=4", "--strategy-opt", "iterations=1",
        "--strategy-opt", "top=2", "--strategy-opt", "predictor_samples=20", "--budget", "2",
        "--estimator-opt", "epochs=1", "--estimator-opt", "resolution=8",
        "--estimator-opt", "train_subset=64", "--estimator-opt", "threads=1")


def made_up_table(path, per_op) -> str:
    """An ort-cpu table of the tiny space whose op times are `per_op(sig)` ms."""
    space = ProxylessSpace(**SPACE)
    entries = {}
    for sig in space.all_ops():
        ms = per_op(sig)
        entries[sig.key] = {"p0": ms, "p10": ms, "p50": ms, "p90": ms * 1.1, "mean": ms,
                            "std": 0.0, "n": 5}
    LatencyTable(backend="ort-cpu", device={"name": "test"}, threads=1,
                 space={"name": "proxyless", "config": space.config()},
                 entries=entries).save(path)
    return str(path)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ofa-tables")
    kernels = made_up_table(folder / "kernels.json", lambda s: 0.01 * (s.kernel or 1))
    widths = made_up_table(folder / "widths.json",
                           lambda s: 0.001 * (getattr(s, "expand", None) or 1) ** 3)
    return kernels, widths


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tables):
    base = tmp_path_factory.mktemp("ofa") / "run"
    proc = hwnas("search", *TINY, "--method", "ofa", "--table", tables[0], "--table", tables[1],
                 *FAST, *SUBSET, "--run-dir", str(base), "--json")
    assert proc.returncode == 0, proc.stderr
    return base, json.loads(proc.stdout)


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def test_one_run_per_table_from_one_training(two_runs, tables):
    base, out = two_runs
    first, second = (base.parent / "run-kernels"), (base.parent / "run-widths")
    assert [r["run"] for r in out["runs"]] == [str(first), str(second)]
    assert [r["table"] for r in out["runs"]] == list(tables)
    assert (first / "strategy" / "supernet.pt").is_file()
    assert not (second / "strategy" / "supernet.pt").exists()  # trained once
    log = json.loads((second / "strategy" / "log.json").read_text())
    assert log["supernet"]["reused"] == str(first / "strategy" / "supernet.pt")
    config = json.loads((second / "config.json").read_text())
    assert config["search"]["strategy_options"]["supernet"] == str(first)
    assert config["search"]["table"] == tables[1]


def test_each_run_searched_under_its_own_table(two_runs, tables):
    base, _ = two_runs
    space = ProxylessSpace(**SPACE)
    for name, table in (("run-kernels", tables[0]), ("run-widths", tables[1])):
        recs = records(base.parent / name)
        assert len(recs) == 2
        own = LatencyTable.load(table)
        for r in recs:  # the strategy's latency is the run's own table's
            arch = Arch.from_dict(r["arch"])
            assert r["proposal"]["table_latency_ms"] == pytest.approx(
                own.predict_ops(space.ops(arch)))
            assert r["proposal"]["table_latency_ms"] == pytest.approx(r["result"]["latency_ms"])
            assert r["proposal"]["table_latency_ms"] <= r["proposal"]["limit_ms"] + 1e-9


def test_several_tables_are_for_ofa_only(tmp_path, tables):
    proc = hwnas("search", *TINY, "--method", "spos", "--table", tables[0], "--table", tables[1],
                 "--run-dir", str(tmp_path / "r"))
    assert_one_line_error(proc, 2, "several --table are for --method ofa")
    proc = hwnas("search", *TINY, "--method", "ofa", "--table", tables[0], "--table", tables[0],
                 "--run-dir", str(tmp_path / "r"))
    assert_one_line_error(proc, 2, "is given twice")
    proc = hwnas("search", *TINY, "--method", "ofa", "--table", tables[0], "--table", tables[1],
                 "--strategy-opt", "supernet=elsewhere", "--run-dir", str(tmp_path / "r"))
    assert_one_line_error(proc, 2, "the first table's run trains the supernet")
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_supernet_of_another_problem_is_refused(two_runs, tables, tmp_path):
    base, _ = two_runs
    proc = hwnas("search", *TINY, "--method", "ofa", "--table", tables[1], *FAST,
                 "--strategy-opt", "train_subset=128",
                 "--strategy-opt", f"supernet={base.parent / 'run-kernels'}",
                 "--run-dir", str(tmp_path / "r"))
    assert_one_line_error(proc, 2, "train_subset: 96 there, 128 here")
    assert not (tmp_path / "r").exists()
