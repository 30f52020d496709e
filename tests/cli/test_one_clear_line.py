"""Where "internal error" (or a wrong reason, or silence) answered what deserves one clear line
(issue 29, class 7): a full disk, a deleted working folder, a weights file that is a hostile
pickle, `--backend bogus` taken for a table mismatch, a benchmark cell that is not a number
taken for an unknown objective, a key given twice in a JSON file, a read-only table replaced
by a command that rewrites it. Each is generated over the commands where it applies.

In-process through `run_app` (a subprocess costs seconds of imports), but the deleted working
folder, which needs a process that starts in one.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.cli.helpers import ROOT, hwnas
from tests.cli.test_bad_input_catalogue import table
from tests.tabular_helpers import write_synthetic_nb201


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(code: int, err: str, exit_code: int, *needles: str) -> None:
    assert code == exit_code and err.count("\n") == 1 and err.startswith("hwnas: error:"), \
        (code, err)
    assert "internal error" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


def tabular_search(bench: Path, run_dir: Path) -> list[str]:
    return ["search", "--space", "nb201", "--estimator", "tabular", "--estimator-opt",
            f"benchmark={bench}", "--estimator-opt", "costs=latency:pixel3", "--objectives",
            "accuracy,latency:pixel3", "--method", "random", "--budget", "3", "--run-dir",
            str(run_dir), "--json"]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A 3-candidate tabular run (runs/r) beside its synthetic benchmark (b.csv)."""
    root = tmp_path_factory.mktemp("clear")
    bench = write_synthetic_nb201(root / "b.csv")
    assert run_app(app, tabular_search(bench, root / "runs" / "r")) == 0
    return root


@pytest.fixture
def case(made, tmp_path, monkeypatch) -> Path:
    shutil.copytree(made, tmp_path, dirs_exist_ok=True)
    config = json.loads((tmp_path / "runs" / "r" / "config.json").read_text())
    config["search"]["estimator_options"]["benchmark"] = str(tmp_path / "b.csv")
    (tmp_path / "runs" / "r" / "config.json").write_text(json.dumps(config))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


# -- a full disk ----------------------------------------------------------------------------
WRITERS = {
    "search": lambda c: tabular_search(c / "b.csv", c / "new"),
    "search --resume": lambda c: ["search", "--resume", c / "runs" / "r", "--budget", "5"],
    "pareto": lambda c: ["pareto", c / "runs" / "r"],
    "report": lambda c: ["report", c / "runs" / "r", "-o", c / "r.html"],
    "tables import": lambda c: (table()(c), ["tables", "import", c / "t.json", "-o",
                                             c / "copy.json"])[1],
}


@pytest.mark.parametrize("command", list(WRITERS))
def test_a_full_disk_is_one_line_and_leaves_every_file_whole(case, capsys, monkeypatch,
                                                              command):
    """No space left (simulated where every file is made durable: fsync) is one line, exit
    1, and every file written before is as it was (each is replaced in one rename)."""
    argv = WRITERS[command](case)
    before = tree(case)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = run(capsys, *argv)
    one_line(code, err, 1, "no space left on the device")
    after = tree(case)
    kept = [p for p in before if not p.endswith(("history.jsonl", "lock"))]  # the writer's
    assert {p: after.get(p) for p in kept} == {p: before[p] for p in kept}
    assert not [p for p in after if p not in before and not p.endswith("lock")], after


# -- a deleted working folder ---------------------------------------------------------------
@pytest.mark.parametrize("argv", [["runs"], ["pareto", "runs/r"], ["list", "spaces"],
                                  ["search", "--space", "nb201", "--budget", "1"]])
def test_a_deleted_working_folder_is_one_line(tmp_path, argv):
    script = ('mkdir gone && cd gone && rmdir ../gone && exec "$0" "$@"')
    proc = subprocess.run(["bash", "-c", script, sys.executable, str(ROOT / "cli.py"), *argv],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    one_line(proc.returncode, proc.stderr, 1, "the working folder no longer exists")


# -- a weights file that is a hostile pickle ------------------------------------------------
class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("where", ["weights/{key}.pt", "trained/{key}/weights.pt"])
def test_a_hostile_weights_file_is_refused_without_relaying_torchs_advice(case, where):
    run_dir = case / "runs" / "r"
    key = json.loads((run_dir / "pareto.json").read_text())["front"][0]["arch_key"]
    path = run_dir / where.format(key=key)
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps(_RunsCode()))
    if where.startswith("trained"):
        (path.parent / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5}))
    # the real entry point: torch's own warning would reach stderr there, not in-process
    proc = hwnas("export", str(run_dir), "--arch", key, "-o", str(case / "m.onnx"), cwd=case)
    code, err = proc.returncode, proc.stderr
    one_line(code, err, 2, str(path), "tensors only")
    assert "weights_only" not in err and "arbitrary code" not in err.lower(), err
    assert not (case / "pwned").exists() and not (case / "m.onnx").exists()


# -- an unknown --backend -------------------------------------------------------------------
def test_an_unknown_backend_is_named_not_taken_for_a_table_mismatch(case, capsys):
    table()(case)
    config_path = case / "runs" / "r" / "config.json"
    config = json.loads(config_path.read_text())
    config["search"]["table"] = str(case / "t.json")
    config_path.write_text(json.dumps(config))
    code, _, err = run(capsys, "export", case / "runs" / "r", "--backend", "bogus",
                       "--untrained", "-o", case / "m.onnx")
    one_line(code, err, 2, "unknown backend 'bogus'", "hwnas list backends")
    assert "measured with" not in err


# -- a benchmark cell that is not a number --------------------------------------------------
@pytest.mark.parametrize("command", ["search", "bench"])
def test_a_non_numeric_benchmark_cell_is_named_not_an_unknown_objective(case, capsys,
                                                                        command):
    header, first, rest = (case / "b.csv").read_text().split("\n", 2)
    cells = first.split(",")
    cells[2] = "n/a"
    (case / "b.csv").write_text("\n".join([header, ",".join(cells), rest]))
    argv = tabular_search(case / "b.csv", case / "new") if command == "search" else \
        ["bench", "--benchmark", case / "b.csv", "--methods", "random", "--budget", "2",
         "--seeds", "1", "--out", case / "league"]
    code, _, err = run(capsys, *argv)
    one_line(code, err, 2, "row 0 (line 2)", "nats_c10_test_acc_200ep is 'n/a', not a number")
    assert "unknown" not in err


# -- a key given twice ----------------------------------------------------------------------
def _twice(text: str, key: str) -> str:
    """`text` (JSON) with the object member `key` written a second time, first value 9."""
    at = text.index(f'"{key}":')
    return text[:at] + f'"{key}": 9, ' + text[at:]


@pytest.mark.parametrize("command", [
    ["tables", "show", "t.json"], ["tables", "validate", "t.json", "--samples", "2"],
    ["tables", "diff", "t.json", "t.json"], ["tables", "import", "t.json", "-o", "c.json"],
    ["search", "--table", "t.json", "--budget", "1", "--space-opt", "resolution=16",
     "--space-opt", "width_mult=0.25"]])
def test_a_key_given_twice_in_a_table_is_refused(case, capsys, command):
    table()(case)
    text = (case / "t.json").read_text()
    (case / "t.json").write_text(_twice(text, "batch"))
    code, _, err = run(capsys, *command)
    one_line(code, err, 2, "'batch' twice")


@pytest.mark.parametrize("command", [["pareto", "runs/r"], ["runs", "show", "runs/r"],
                                     ["search", "--resume", "runs/r", "--budget", "5"]])
def test_a_key_given_twice_in_a_run_config_is_refused(case, capsys, command):
    path = case / "runs" / "r" / "config.json"
    path.write_text(_twice(path.read_text(), "budget"))
    code, _, err = run(capsys, *command)
    one_line(code, err, 2, "'budget' twice")


# -- a read-only table ----------------------------------------------------------------------
@pytest.mark.parametrize("command", [
    ["tables", "calibrate", "t.json", "--samples", "4", "--allow-mismatch"],
    ["tables", "fill", "t.json", "--allow-other-device"]])
def test_a_read_only_table_is_not_replaced(case, capsys, command):
    """The file's mode says read-only (root's os.access would say writable): refused before
    any measuring, the table kept as it is. It lacks an entry, so that fill has one to
    measure and write."""
    table()(case)
    raw = json.loads((case / "t.json").read_text())
    raw["entries"].pop(next(iter(raw["entries"])))
    (case / "t.json").write_text(json.dumps(raw))
    (case / "t.json").chmod(0o444)
    before = (case / "t.json").read_bytes()
    code, _, err = run(capsys, *command)
    last = err.splitlines()[-1] + "\n"  # after fill's warning on another device's table
    one_line(code, last, 2, "t.json", "read-only")
    assert (case / "t.json").read_bytes() == before
