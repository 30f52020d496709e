"""Bad input through the real entry point: one line, exit 2, no traceback, nothing written."""

import json

from tests.cli.helpers import assert_one_line_error, hwnas


def test_unknown_space_names_the_closest(tmp_path):
    proc = hwnas("profile", "--space", "proxyles", "--out", str(tmp_path / "t.json"))
    assert_one_line_error(proc, 2, "unknown search space 'proxyles'", "'proxyless'")
    assert not (tmp_path / "t.json").exists()


def test_unknown_backend(tmp_path):
    proc = hwnas("profile", "--backend", "ort-cp", "--out", str(tmp_path / "t.json"))
    assert_one_line_error(proc, 2, "'ort-cpu'")


def test_unavailable_backend_says_why_in_one_line(tmp_path):
    proc = hwnas("profile", "--backend", "torch-cuda", "--out", str(tmp_path / "t.json"))
    if proc.returncode == 0:  # a machine with a GPU
        return
    assert_one_line_error(proc, 2, "torch-cuda")


def test_unreadable_table(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ this is not json")
    proc = hwnas("search", "--table", str(bad), "--run-dir", str(tmp_path / "run"))
    assert_one_line_error(proc, 2, "not readable JSON")
    assert not (tmp_path / "run").exists()


def test_absent_table(tmp_path):
    proc = hwnas("search", "--table", str(tmp_path / "none.json"))
    assert_one_line_error(proc, 2, "does not exist", "hwnas profile")


def test_table_missing_entries(tmp_path, tiny_table_path):
    raw = json.loads(tiny_table_path.read_text())
    raw["entries"].pop(sorted(raw["entries"])[0])
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(raw))
    proc = hwnas("search", "--table", str(partial), "--space-opt", "resolution=16",
                 "--space-opt", "width_mult=0.25", "--run-dir", str(tmp_path / "run"))
    assert_one_line_error(proc, 2, "has no entry for 1 op(s)", "hwnas profile --space proxyless")
    assert not (tmp_path / "run").exists()


def test_unknown_strategy_and_option(tmp_path, tiny_table_path):
    common = ("search", "--table", str(tiny_table_path), "--space-opt", "resolution=16",
              "--space-opt", "width_mult=0.25", "--run-dir", str(tmp_path / "run"))
    assert_one_line_error(hwnas(*common, "--method", "evolutoin"), 2, "'evolution'")
    assert_one_line_error(hwnas(*common, "--strategy-opt", "populaton=3"), 2, "population")
    assert_one_line_error(hwnas(*common, "--estimator-opt", "epochs=zero"), 2, "epochs")
    assert not (tmp_path / "run").exists()


def test_unknown_command_and_option():
    assert_one_line_error(hwnas("serch"), 2, "serch", "search")
    assert_one_line_error(hwnas("profile", "--bakend", "x"), 2, "--bakend")


def test_export_of_a_non_run(tmp_path):
    proc = hwnas("export", str(tmp_path))
    assert_one_line_error(proc, 2, "not a run directory")


def test_search_without_a_table_needs_one_for_latency(tmp_path):
    proc = hwnas("search", "--run-dir", str(tmp_path / "run"))
    assert_one_line_error(proc, 2, "objective 'latency_ms' needs a latency table", "hwnas profile")
    assert not (tmp_path / "run").exists()
