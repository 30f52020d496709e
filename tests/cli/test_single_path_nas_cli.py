"""Single-Path NAS through `hwnas search`: a λ sweep proposes one derived network per setting,
with the thresholds in each setting's trajectory; --target-ms is the derivation's hard limit;
what it cannot search is refused in one line before a run is written."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import assert_one_line_error, hwnas
from tests.cli.test_oneshot_cli import FAST, TINY, records, target_above_smallest


def test_a_lambda_sweep_proposes_one_network_per_setting(tmp_path, tiny_table_path):
    run_dir = tmp_path / "run"
    proc = hwnas("search", *TINY, "--table", str(tiny_table_path), "--method",
                 "single_path_nas", "--sweep", "lambda=0,0.5", *FAST,
                 "--strategy-opt", "arch_lr=0.1", "--run-dir", str(run_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    recs = records(run_dir)
    assert [r["proposal"]["setting"] for r in recs] == [{"lambda": 0.0}, {"lambda": 0.5}]
    for k, r in enumerate(recs):
        assert r["strategy"] == "single_path_nas"
        assert r["proposal"]["table_cost"] == pytest.approx(r["result"]["latency_ms"])
        epochs = json.loads((run_dir / "strategy" / f"setting-{k:02d}" / "trajectory.json")
                            .read_text())["epochs"]
        assert [e["phase"] for e in epochs] == ["warmup", "search"]
        last = epochs[-1]
        names = {frozenset(t) for t in last["thresholds"].values()}
        # e3 (the layer kept) only where the layer can be skipped
        assert names == {frozenset({"k5", "k7", "e6"}), frozenset({"k5", "k7", "e6", "e3"})}
        assert last["argmax_cost"] == pytest.approx(r["proposal"]["table_cost"])
    # λ = 0.5 (a coefficient of 500 on log R) is strong on this table: not slower than λ = 0
    assert recs[1]["proposal"]["table_cost"] <= recs[0]["proposal"]["table_cost"]


def test_the_target_is_a_hard_limit(tmp_path, tiny_table_path):
    target = target_above_smallest(tiny_table_path)
    run_dir = tmp_path / "run"
    proc = hwnas("search", *TINY, "--table", str(tiny_table_path), "--method",
                 "single_path_nas", "--target-ms", f"{target:.6f}", *FAST,
                 "--run-dir", str(run_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    (rec,) = records(run_dir)
    assert rec["result"]["latency_ms"] <= target
    # λ = 0.02 for a few steps leaves the thresholds below the norms: the largest network,
    # repaired to the limit
    assert rec["proposal"]["changed_for_target"]


def test_separate_weights_are_refused_before_a_run_is_written(tmp_path, tiny_table_path):
    run_dir = tmp_path / "run"
    proc = hwnas("search", *TINY, "--table", str(tiny_table_path), "--method",
                 "single_path_nas", "--strategy-opt", "supernet_weights=separate",
                 "--run-dir", str(run_dir))
    assert_one_line_error(proc, 2, "'supernet_weights' option of strategy 'single_path_nas' "
                                   "must be 'entangled'")
    assert not run_dir.exists()
