"""Ray is an optional extra: without it `--evaluator ray` and `--ray-resource` are one line and
exit 2, and the local evaluator, `hwnas list` and `--help` never import it. No Ray starts here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.cli.helpers import ROOT

EXTRA_LINE = "pip install 'hwnas[distributed]'"


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env={"PYTHONPATH": str(ROOT),
                                                      "OMP_NUM_THREADS": "1", "PATH": ""})


def search_args(csv, run_dir, *extra) -> list[str]:
    return ["search", "--space", "nb201", "--estimator", "tabular",
            "--estimator-opt", f"benchmark={csv}", "--estimator-opt", "costs=latency:pixel3",
            "--objectives", "accuracy,latency:pixel3", "--method", "random", "--budget", "2",
            "--run-dir", str(run_dir), "--json", *extra]


WITHOUT_RAY = ("import sys\nsys.modules['ray'] = None  # as if the extra were not installed\n"
               "from hwnas.cli import app\nfrom hwnas.cli.errors import run_app\n")


def test_without_ray_its_two_entry_points_are_one_line_and_exit_2(bench_csv, tmp_path):
    run_dir, out = tmp_path / "run", tmp_path / "t.json"
    search = search_args(bench_csv, run_dir, "--evaluator", "ray")
    profile = ["profile", "--space", "nb201", "--ray-resource", "device:x", "-o", str(out)]
    done = run_python(WITHOUT_RAY + f"codes = [run_app(app, {search!r}), "
                      f"run_app(app, {profile!r})]\nprint(codes)")
    assert done.stdout.strip() == "[2, 2]", done.stderr
    assert done.stderr.strip().split("\n") == [
        f"hwnas: error: the ray evaluator needs the distributed extra: {EXTRA_LINE}",
        f"hwnas: error: --ray-resource needs the distributed extra: {EXTRA_LINE}"]
    assert not run_dir.exists() and not out.exists()


def test_the_local_evaluator_listing_and_help_never_import_ray(bench_csv, tmp_path):
    args = search_args(bench_csv, tmp_path / "run")
    done = run_python("import contextlib, io, sys\nfrom hwnas.cli import app, main\n"
                      "from hwnas.cli.errors import run_app\n"
                      "with contextlib.redirect_stdout(io.StringIO()):\n"
                      "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
                      "    assert run_app(app, ['list', 'evaluators']) == 0\n"
                      f"    assert run_app(app, {args!r}) == 0\n"
                      "print(sorted(m for m in sys.modules if m == 'ray' or "
                      "m.startswith('ray.')))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "run" / "history.jsonl").is_file()


@pytest.mark.parametrize("option, value, allowed", [
    ("address", "nohost", "'' (start a local Ray), 'auto', HOST:PORT or ray://HOST:PORT"),
    ("address", "host:99999", "'' (start a local Ray), 'auto', HOST:PORT or ray://HOST:PORT"),
])
def test_a_malformed_address_is_refused_before_ray_starts(bench_csv, tmp_path, capsys, option,
                                                          value, allowed):
    run_dir = tmp_path / "run"
    code = run_app(app, search_args(bench_csv, run_dir, "--evaluator", "ray",
                                    "--evaluator-opt", f"{option}={value}"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err, err
    assert f"The {option!r} option of evaluator 'ray' must be {allowed}. Got {value!r}" in err
    assert not run_dir.exists()


def test_an_address_where_no_ray_listens_is_refused_in_one_line(bench_csv, tmp_path):
    """In a fresh process (this one may hold the fixture's Ray): a closed port answers at
    once, instead of ray.init waiting for minutes."""
    run_dir = tmp_path / "run"
    args = search_args(bench_csv, run_dir, "--evaluator", "ray",
                       "--evaluator-opt", "address=127.0.0.1:9")
    done = run_python("import sys\nfrom hwnas.cli import app\n"
                      "from hwnas.cli.errors import run_app\n"
                      f"sys.exit(run_app(app, {args!r}))")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("hwnas: error: the ray evaluator: no Ray cluster "
                                          "answers at 127.0.0.1:9 (Connection refused)")
    assert "ray start --head --port 9" in done.stderr
    assert not run_dir.exists()
