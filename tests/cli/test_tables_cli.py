"""`hwnas tables fill/diff/import` and the remote-device round trip, through the entry point."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hwnas.latency.table import LatencyTable
from tests.cli.helpers import ROOT, assert_one_line_error, hwnas
from tests.table_helpers import partial_table

TINY_OPTS = ("--space-opt", "resolution=16", "--space-opt", "width_mult=0.25")


def test_fill_measures_only_the_missing(tmp_path, tiny_table_path):
    path, removed = partial_table(tmp_path, tiny_table_path, 2)
    proc = hwnas("tables", "fill", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(report["measured"]) == removed and report["kept"] == 42
    assert report["entries"] == 44 and report["warning"] is None
    proc = hwnas("tables", "fill", str(path))
    assert proc.returncode == 0 and "measured 0 missing op(s) of 44" in proc.stdout


def test_fill_on_another_device(tmp_path, tiny_table_path):
    path, removed = partial_table(tmp_path, tiny_table_path, 1, device="Fake CPU 9000")
    assert_one_line_error(hwnas("tables", "fill", str(path)), 2, "fake-9000",
                          "--allow-other-device")
    proc = hwnas("tables", "fill", str(path), "--allow-other-device")
    assert proc.returncode == 0, proc.stderr
    # a loaded machine may also print progress lines (one per 10 s) on stderr
    warning = "\n".join(line for line in proc.stderr.strip().splitlines()
                        if not line.startswith("filling on"))
    assert "\n" not in warning and "incomparable" in warning and "fake-9000" in warning
    assert "measured 1 missing op(s)" in proc.stdout
    assert removed[0] in LatencyTable.load(path).entries


def test_diff_of_a_table_with_itself(tiny_table_path):
    proc = hwnas("tables", "diff", str(tiny_table_path), str(tiny_table_path), "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["ratio"]["median"] == d["ratio"]["min"] == d["ratio"]["max"] == 1.0
    assert d["common"] == 44 and not d["only_in_a"] and not d["only_in_b"] and d["header"] == {}
    text = hwnas("tables", "diff", str(tiny_table_path), str(tiny_table_path)).stdout
    assert "median 1.000" in text and "only in A: 0" in text and "headers: same" in text


def test_import_yaml_through_the_cli(tmp_path):
    (tmp_path / "phone.yaml").write_text(
        "Conv-input:16x16x3-output:16x16x8: {mean: 0.2, std: 0.02, count: 5}\n"
        "Conv_2-input:1x1x8-output:1x1x16: {mean: 0.1, std: 0.0, count: 5}\n")
    proc = hwnas("tables", "import", str(tmp_path / "phone.yaml"), "--space", "proxyless",
                 *TINY_OPTS, "--device", "Pixel 1", "--backend", "tflite", "--json",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["entries"] == 1 and len(report["unmapped"]) == 1
    assert report["path"] == ("latency_tables/pixel-1/"
                              "proxyless-tflite-b1-fp32-i3-n10-r16-w0.25.json")
    assert report["space"]["covered"] == 1
    entry = LatencyTable.load(tmp_path / report["path"]).entries[
        "stem|cin=3|cout=8|hw=16|k=3|s=1"]
    assert entry["p50"] == 0.2 and entry["p90"] == pytest.approx(0.2 + 1.28155 * 0.02)


def test_import_bad_input_is_one_line(tmp_path, tiny_table_path):
    assert_one_line_error(hwnas("tables", "import", str(tmp_path / "no.yaml")), 2,
                          "does not exist")
    (tmp_path / "bad.yaml").write_text("key: [unclosed\n")
    assert_one_line_error(hwnas("tables", "import", str(tmp_path / "bad.yaml")), 2,
                          "not readable YAML")
    (tmp_path / "t.json").write_text(tiny_table_path.read_text())
    assert_one_line_error(hwnas("tables", "import", str(tmp_path / "t.json"), "-o",
                                str(tmp_path / "t.json"), "--space", "proxyless"), 2,
                          "records its own space")
    assert_one_line_error(hwnas("tables", "import", str(tmp_path / "t.json"), *TINY_OPTS), 2,
                          "--space-opt needs --space")


def test_bundle_remote_measure_import_predicts(tmp_path, tiny_space):
    bundle = tmp_path / "ops.zip"
    proc = hwnas("profile", "--bundle", str(bundle), *TINY_OPTS, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ops"] == 44
    # The device side: only the profilers package, as `python -m profilers` runs it there.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    measured = subprocess.run(
        [sys.executable, "-m", "profilers", "measure", str(bundle), "--backend", "ort-cpu",
         "--threads", "1", "-o", str(tmp_path / "table.json"), "--time-budget", "0.01",
         "--max-repeats", "10", "--quiet"], capture_output=True, text=True, env=env, timeout=300)
    assert measured.returncode == 0, measured.stderr
    assert "wrote" in measured.stdout and "44 ops on ort-cpu" in measured.stdout
    proc = hwnas("tables", "import", str(tmp_path / "table.json"), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["format"] == "hwnas" and report["space"]["covered"] == 44
    table = LatencyTable.load(tmp_path / report["path"])
    assert report["path"].endswith("/proxyless-ort-cpu-b1-fp32-i3-n10-r16-w0.25.json")
    sigs = tiny_space.ops(tiny_space.sample(np.random.default_rng(3)))
    predicted = table.predict_ops(sigs)
    assert predicted == pytest.approx(sum(table.entries[s.key]["p50"] for s in sigs))
    assert 0 < predicted < 100
    again = hwnas("tables", "import", str(tmp_path / "table.json"), cwd=tmp_path)
    assert_one_line_error(again, 2, "already exists", "--force")


def test_bad_bundles_are_one_line_exit_2(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    (tmp_path / "x.zip").write_bytes(b"garbage")
    for target in (tmp_path / "x.zip", tmp_path / "missing.zip"):
        proc = subprocess.run([sys.executable, "-m", "profilers", "measure", str(target)],
                              capture_output=True, text=True, env=env, timeout=120)
        err = proc.stderr.strip()
        assert proc.returncode == 2 and "\n" not in err and err.startswith("profilers: error:")
        assert "Traceback" not in err
    assert_one_line_error(hwnas("profile", "--bundle", str(tmp_path / "b.zip"), "--out",
                                str(tmp_path / "t.json")), 2, "--bundle measures nothing")
    assert not (tmp_path / "b.zip").exists()


def test_show_is_a_table_with_units_sorted_numerically(tiny_table_path):
    out = hwnas("tables", "show", str(tiny_table_path)).stdout
    header = next(line for line in out.splitlines() if line.strip().startswith("op "))
    assert "p50 (ms)" in header and "p90 (ms)" in header and "std (ms)" in header
    keys = [line.split()[0] for line in out.splitlines()[out.splitlines().index(header) + 1:]]
    mb = [k for k in keys if k.startswith("mbconv|cin=")]
    cins = [int(k.split("|")[1].split("=")[1]) for k in mb]
    assert cins == sorted(cins) and len(keys) == 44  # cin=8 before cin=16, not as text
    by_latency = hwnas("tables", "show", str(tiny_table_path), "--sort", "latency").stdout
    rows = by_latency.splitlines()[by_latency.splitlines().index(header) + 1:]
    stat = next(line for line in out.splitlines() if line.startswith("predicts in: ")).split()[2]
    names = [t for t in header.split() if not t.startswith("(")]  # headings without units
    column = names.index(stat)  # the table's statistic, the one it is sorted by
    values = [float(r.split()[column]) for r in rows]
    assert values == sorted(values, reverse=True)
    assert_one_line_error(hwnas("tables", "show", str(tiny_table_path), "--sort", "size"), 2,
                          "latency")


def test_calibrate_out_writes_elsewhere_and_keeps_the_source(tmp_path, tiny_table_path):
    source = tmp_path / "t.json"
    source.write_text(tiny_table_path.read_text())
    before = source.read_text()
    out = tmp_path / "calibrated.json"
    proc = hwnas("tables", "calibrate", str(source), "--samples", "4", "--out", str(out),
                 "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["table"] == str(out) and source.read_text() == before
    table = LatencyTable.load(out)
    assert table.calibration["fitted_on"]["networks"] == 4
    assert table.reference["source"] == "calibrate" and table.reference["ms"] > 0
    assert table.calibration["fitted_on"]["residual_selection"]["chosen"] == "none"
    text = hwnas("tables", "show", str(out)).stdout
    assert "reference workload:" in text and "calibration: intercept" in text
    bad = tmp_path / "calibrated.txt"
    assert_one_line_error(hwnas("tables", "calibrate", str(source), "--out", str(bad)), 2,
                          ".json")
    assert not bad.exists() and source.read_text() == before
