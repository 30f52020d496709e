"""The README flow through the real CLI: profile -> search -> pareto -> train -> export (tiny
budget; the search's proxy trains at 8x8, the network is timed and exported at 16x16)."""

import json

import onnx
import pytest

from tests.cli.helpers import hwnas

SPACE = ("--space-opt", "resolution=16", "--space-opt", "width_mult=0.25")
FAST_ESTIMATOR = ("--estimator-opt", "epochs=1", "--estimator-opt", "resolution=8",
                  "--estimator-opt", "train_subset=300")


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow")
    table = root / "table.json"
    proc = hwnas("profile", *SPACE, "--backend", "ort-cpu", "--threads", "1", "-o", str(table),
                 "--json")
    assert proc.returncode == 0, proc.stderr
    run = root / "run"
    proc = hwnas("search", *SPACE, "--table", str(table), "--method", "evolution",
                 "--strategy-opt", "population=3", "--strategy-opt", "sample_size=2",
                 *FAST_ESTIMATOR, "--budget", "5", "--run-dir", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    return root, table, run, json.loads(proc.stdout)


def test_profile_wrote_a_complete_table(flow):
    _, table, _, _ = flow
    raw = json.loads(table.read_text())
    assert raw["schema"] == 1 and raw["units"] == "ms" and raw["backend"] == "ort-cpu"
    from hwnas.spaces.proxyless import ProxylessSpace

    space = ProxylessSpace(resolution=16, width_mult=0.25)
    assert set(raw["entries"]) == {s.key for s in space.all_ops()}
    assert raw["device"]["logical_cores"] >= 1


def test_search_wrote_config_history_and_front(flow):
    _, table, run, out = flow
    config = json.loads((run / "config.json").read_text())
    assert config["search"]["seed"] == 0 and config["search"]["table"] == str(table)
    assert "torch" in config["versions"]
    lines = (run / "history.jsonl").read_text().splitlines()
    assert len(lines) == 5
    for line in lines:
        record = json.loads(line)
        assert record["estimate"]["train_size"] > 0  # the estimator's plain data is kept
        result = record["result"]
        assert 0 <= result["accuracy"] <= 1 and result["latency_ms"] > 0
        assert result["params"] > 0 and result["flops"] > 0
    front = json.loads((run / "pareto.json").read_text())
    assert 1 <= front["front_size"] <= 5 and front["hypervolume"] > 0
    assert (run / "plots" / "pareto.png").stat().st_size > 1000
    assert out["pareto"]["runs"][0]["front_size"] == front["front_size"]


def test_resume_extends_without_re_evaluating(flow, tmp_path):
    _, _, run, _ = flow
    before = (run / "history.jsonl").read_text().splitlines()
    proc = hwnas("search", "--resume", str(run), "--budget", "6", "--json")
    assert proc.returncode == 0, proc.stderr
    after = (run / "history.jsonl").read_text().splitlines()
    assert after[:5] == before and len(after) == 6


def test_pareto_compares_runs_side_by_side(flow):
    root, _, run, _ = flow
    proc = hwnas("pareto", str(run), str(run), "--json", "--plot", str(root / "cmp.png"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    a, b = report["runs"]
    assert a["hypervolume"] == pytest.approx(b["hypervolume"]) and len(report["reference"]
                                                                       ["ref_point"]) == 2
    assert (root / "cmp.png").exists()


def test_export_refuses_proxy_weights_then_exports_the_trained_network(flow):
    root, _, run, _ = flow
    history = [json.loads(x) for x in (run / "history.jsonl").read_text().splitlines()]
    bound = max(r["result"]["latency_ms"] for r in history)
    out = root / "model.onnx"
    pick = ("--pick", f"latency_ms<={bound}")
    proc = hwnas("export", str(run), *pick, "-o", str(out))
    assert proc.returncode == 2 and "trained at 8x8, a proxy" in proc.stderr
    assert "hwnas train" in proc.stderr and not out.exists()
    proc = hwnas("train", str(run), *pick, "--epochs", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    trained = json.loads(proc.stdout)
    assert trained["resolution"] == 16 and trained["test_size"] == 359
    proc = hwnas("export", str(run), *pick, "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    onnx.checker.check_model(onnx.load(str(out)))
    assert report["max_abs_diff"] <= 1e-4 and report["accuracies"]["weights"] == "final"
    assert report["arch_key"] == trained["arch_key"]
    assert report["accuracies"]["onnx"]["accuracy"] == pytest.approx(trained["test_accuracy"],
                                                                     abs=0.02)
    assert report["measured_ms"]["p50"] > 0 and report["predicted_ms"] > 0
    # the table was profiled with a reference on this backend and thread count: the network
    # is also timed in passes next to it, and that is what the prediction is compared with
    careful = report["at_table_speed"]
    assert careful["rounds"] == 3 and len(careful["raw_ms"]) == 3
    assert report["prediction_error"] == pytest.approx(
        (report["predicted_ms"] - careful["ms"]) / careful["ms"])
    assert json.loads(out.with_suffix(".json").read_text())["arch_key"] == report["arch_key"]


def test_export_pick_that_nothing_meets(flow):
    _, _, run, _ = flow
    proc = hwnas("export", str(run), "--pick", "latency_ms<=0.000001")
    assert proc.returncode == 2 and "closest has latency_ms=" in proc.stderr


def test_export_refuses_another_backend_than_the_tables_unless_allowed(flow):
    root, _, run, _ = flow
    proc = hwnas("export", str(run), "--untrained", "--backend", "torch-cpu", "-o",
                 str(root / "x.onnx"))
    assert proc.returncode == 2 and "backend='ort-cpu', not 'torch-cpu'" in proc.stderr
    assert "--allow-mismatch" in proc.stderr and not (root / "x.onnx").exists()


def test_runs_show_pareto_query_and_export_dry_run(flow):
    """The README's overview and query commands on the flow's run."""
    root, table, run, _ = flow
    proc = hwnas("runs", "show", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["status"] in ("done", "incomplete") and shown["hypervolume"] > 0
    assert shown["table"]["path"] == str(table)
    csv_path = root / "front.csv"
    proc = hwnas("pareto", str(run), "--where", "latency_ms<=1000 and accuracy>=0",
                 "--sort", "accuracy:desc", "--top", "2", "--csv", str(csv_path),
                 "--pick", "latency_ms<=1000", "--plot", str(root / "q.png"))
    assert proc.returncode == 0, proc.stderr
    assert "knee" in proc.stdout and "arch legend (proxyless)" in proc.stdout
    assert 1 <= len(csv_path.read_text().splitlines()) - 1 <= 2
    exports = run / "exports"
    before = sorted(exports.iterdir()) if exports.exists() else []
    proc = hwnas("export", str(run), "--pick", "latency_ms<=1000", "--dry-run")
    assert proc.returncode == 0 and "would export" in proc.stdout
    assert (sorted(exports.iterdir()) if exports.exists() else []) == before
