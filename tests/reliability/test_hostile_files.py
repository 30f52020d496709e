"""Every command that reads a run, a latency table or a benchmark, run against something
hostile in place of each file it reads: a FIFO (reading one blocks for ever), a folder, a
symlink loop, /dev/zero (never ends), an unreadable file, bytes that are no format, JSON of the
wrong shape, and the right format with a wrong-typed value (a text where a number belongs, a
pickle that would run code). Generated over (command, file, kind), as the conformance tests
are over options.

None may hang (each runs in a forked child with a time limit), print a traceback or
"internal error", or end in anything but exit 0 or one `hwnas: error:` line; none may change a
file it did not create: the hostile file is left exactly as it was, and a command that only
reads leaves every file as it was.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
from pathlib import Path

import pytest

from tests.reliability.forked import HANG, run_forked
from tests.tabular_helpers import write_synthetic_nb201

LIMIT_S = 60.0
VALIDATION = Path(__file__).resolve().parents[2] / "latency_tables" / "amd-epyc-2c" / \
    "proxyless-ort-cpu-b1-fp32-i3-n10-r32-w1.validation.json"
TINY = {"resolution": 16, "width_mult": 0.25}


class _RunsCode:
    """A pickle that would create a file named `pwned` if loaded without restriction."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


# -- the files, and what each command reads -------------------------------------------------
# Paths are relative to a case's folder; K is the knee's architecture key.
RUN = "run"
FILES = {
    "config": "run/config.json", "history": "run/history.jsonl", "front": "run/pareto.json",
    "lock": "run/lock", "weights": "run/weights/K.pt",
    "metrics": "run/trained/K/metrics.json", "training": "run/trained/K/training.json",
    "curve": "run/trained/K/curve.json", "final": "run/trained/K/weights.pt",
    "table": "t.json", "validation": "t.validation.json", "benchmark": "b.csv",
}
WRITER_FILES = ("run/history.jsonl", "run/pareto.json", "run/config.json", "run/lock")
TRAINED = ("metrics", "training", "curve", "final")  # laid out only when one is under test

COMMANDS = {  # name -> (argv, the files it reads, whether it writes the run)
    "pareto": (["pareto", RUN, "--json", "--plot", "out.png"],
               ["config", "history", "lock", "table"], False),
    "runs": (["runs", "."], ["config", "history", "front", "lock"], False),
    "runs show": (["runs", "show", RUN], ["config", "history", "front", "lock", "metrics",
                                           "training", "curve", "final", "benchmark",
                                           "table"], False),
    "report": (["report", RUN, "-o", "out.html"],
               ["config", "history", "lock", "table", "validation"], False),
    "export --dry-run": (["export", RUN, "--dry-run"], ["config", "history", "lock"], False),
    "export": (["export", RUN, "--arch", "K", "-o", "out.onnx"],
               ["weights", "metrics", "final"], False),
    "search --resume": (["search", "--resume", RUN, "--budget", "5", "--json"],
                        ["config", "history", "lock", "front", "benchmark"], True),
    "search --estimator tabular": (
        ["search", "--space", "nb201", "--estimator", "tabular", "--estimator-opt",
         "benchmark=b.csv", "--estimator-opt", "costs=latency:pixel3", "--objectives",
         "accuracy,latency:pixel3", "--method", "random", "--budget", "2", "--run-dir", "new",
         "--json"], ["benchmark"], False),
    "bench": (["bench", "--benchmark", "b.csv", "--methods", "random", "--budget", "2",
               "--seeds", "1", "--out", "league", "--json"], ["benchmark"], False),
    "search --table": (["search", "--table", "t.json", "--space", "proxyless", "--space-opt",
                        "resolution=16", "--space-opt", "width_mult=0.25", "--budget", "1",
                        "--run-dir", "new", "--json"], ["table"], False),
    "tables show": (["tables", "show", "t.json"], ["table"], False),
    "tables diff": (["tables", "diff", "good.json", "t.json"], ["table"], False),
    "tables validate": (["tables", "validate", "t.json", "--samples", "2"], ["table"], False),
    "tables calibrate": (["tables", "calibrate", "t.json", "--samples", "4"], ["table"],
                         False),
    "tables fill": (["tables", "fill", "t.json"], ["table"], False),
    "tables import": (["tables", "import", "t.json", "-o", "imported.json"], ["table"], False),
}


# -- what replaces a file ---------------------------------------------------------------------
def _typed(name: str, good: bytes) -> bytes:
    """The file's own format with one value of the wrong type (or a pickle that runs code)."""
    if name == "config":
        raw = json.loads(good)
        raw["hypervolume_reference"] = {"objectives": ["accuracy", "latency:pixel3"],
                                        "ideal": "x", "nadir": [1]}
        return json.dumps(raw).encode()
    if name == "history":
        lines = good.decode().splitlines()
        first, second = json.loads(lines[0]), json.loads(lines[1])
        first["result"]["accuracy"] = "high"
        second["arch"] = {"space": "nb201", "values": "x"}
        return "\n".join([json.dumps(first), json.dumps(second), *lines[2:]]).encode() + b"\n"
    if name == "table":
        raw = json.loads(good)
        raw["entries"][next(iter(raw["entries"]))]["p50"] = "fast"
        return json.dumps(raw).encode()
    if name == "validation":
        raw = json.loads(good)
        raw["metrics"] = {key: "x" for key in raw["metrics"]}
        return json.dumps(raw).encode()
    if name == "benchmark":
        header, first, rest = good.split(b"\n", 2)
        cells = first.split(b",")
        cells[2] = b"n/a"  # the accuracy of the first row
        return b"\n".join([header, b",".join(cells), rest])
    if name in ("weights", "final"):
        return pickle.dumps(_RunsCode())
    return {"front": b'{"front_size": "many", "front": 3}', "lock": b"\x1b[2J pid 1\n",
            "metrics": b'{"test_accuracy": "x", "epochs": "y"}',
            "training": b'{"recipe": "x", "resolution": "big", "arch_key": 3}',
            "curve": b'{"epochs": 5}'}[name]


def _place(kind: str, path: Path, name: str, good: bytes) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
        (path / "inside").write_text("{}")
    elif kind == "symlink loop":
        path.symlink_to(path.name)
    elif kind == "/dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "unreadable":
        path.write_bytes(good)
        path.chmod(0)
    elif kind == "garbage":
        path.write_bytes(b"\x00\xff\xfe\x1b[2J not any format \x80\n" * 3)
    elif kind == "wrong JSON":
        path.write_text("[1, 2]\n")
    elif kind == "wrong type":
        path.write_bytes(_typed(name, good))


KINDS = ("fifo", "folder", "symlink loop", "/dev/zero", "unreadable", "garbage", "wrong JSON",
         "wrong type")
CASES = [(command, name, kind) for command, (_, reads, _) in COMMANDS.items()
         for name in reads for kind in KINDS]


# -- the files a case starts from -------------------------------------------------------------
@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict:
    """Every file a case may hold, good, made once: a 4-candidate tabular run on the synthetic
    NB201 benchmark (every cell), marked as searched against a table that has a validation
    report; the knee's search weights and final training (state dicts of its network)."""
    import torch

    from hwnas.api.candidate import run_space
    from hwnas.arch import Arch
    from hwnas.cli import app
    from hwnas.cli.errors import run_app
    from tests.cli.test_bad_input_catalogue import table

    root = tmp_path_factory.mktemp("hostile-good")
    bench = write_synthetic_nb201(root / "b.csv")
    assert run_app(app, ["search", "--space", "nb201", "--estimator", "tabular",
                         "--estimator-opt", f"benchmark={bench}", "--estimator-opt",
                         "costs=latency:pixel3", "--objectives", "accuracy,latency:pixel3",
                         "--method", "random", "--budget", "4", "--run-dir",
                         str(root / "run"), "--json"]) == 0
    table()(root)
    (root / "t.validation.json").write_bytes(VALIDATION.read_bytes())
    config = json.loads((root / "run" / "config.json").read_text())
    knee = json.loads((root / "run" / "pareto.json").read_text())["front"][0]
    record = next(json.loads(line) for line in (root / "run" / "history.jsonl").open()
                  if json.loads(line)["arch_key"] == knee["arch_key"])
    state = run_space(config).build(Arch.from_dict(record["arch"])).state_dict()
    torch.save(state, root / "state.pt")
    (root / "run" / "lock").write_text("pid 1 on host since 2026-01-01T00:00:00\n")
    return {"root": root, "config": config, "key": knee["arch_key"],
            "trained": {"metrics": json.dumps({"test_accuracy": 0.5, "val_accuracy": 0.5,
                                               "epochs": 2}).encode(),
                        "training": json.dumps({"arch_key": knee["arch_key"],
                                                "resolution": 32,
                                                "recipe": {"epochs": 2}}).encode(),
                        "curve": json.dumps({"epochs": [{"epoch": 1}, {"epoch": 2}]}).encode(),
                        "final": (root / "state.pt").read_bytes()}}


def lay_out(good: dict, case: Path, name: str) -> Path:
    """A case's folder: the run (its config naming this folder's table and benchmark), the
    table with its report, the benchmark, and the knee's weights or final training when the
    file under test is one of them. Returns the path of the file under test."""
    src = good["root"]
    shutil.copytree(src / "run", case / "run")
    for file in ("t.json", "t.validation.json", "b.csv"):
        shutil.copy(src / file, case / file)
    shutil.copy(src / "t.json", case / "good.json")
    config = json.loads(json.dumps(good["config"]))
    config["search"]["estimator_options"]["benchmark"] = str(case / "b.csv")
    config["table"] = {"path": str(case / "t.json"), "backend": "ort-cpu", "batch": 1,
                       "dtype": "fp32", "device": {"cpu": "test-cpu"}}
    (case / "run" / "config.json").write_text(json.dumps(config))
    key = good["key"]
    if name == "weights":
        (case / "run" / "weights").mkdir()
        (case / "run" / "weights" / f"{key}.pt").write_bytes(good["trained"]["final"])
    if name in TRAINED:
        folder = case / "run" / "trained" / key
        folder.mkdir(parents=True)
        for part, data in good["trained"].items():
            (folder / Path(FILES[part]).name).write_bytes(data)
    return case / FILES[name].replace("K", key)


def snapshot(root: Path) -> dict:
    """Each path under `root` (symlinks not followed): its kind, and a regular file's size,
    mtime and permissions, a symlink's target."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for entry in [*dirs, *files]:
            path = Path(folder) / entry
            st = path.lstat()
            out[path.relative_to(root).as_posix()] = (
                stat.S_IFMT(st.st_mode), os.readlink(path) if path.is_symlink() else None,
                (st.st_size, st.st_mtime_ns, st.st_mode) if stat.S_ISREG(st.st_mode) else None)
    return out


@pytest.mark.parametrize(("command", "name", "kind"), CASES,
                         ids=[f"{c}|{n}|{k}" for c, n, k in CASES])
def test_a_hostile_file_is_refused_in_one_line_or_read_around(good, tmp_path, command, name,
                                                              kind):
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads a file whatever its permissions")
    argv, _, writes = COMMANDS[command]
    case = tmp_path / "case"
    case.mkdir()
    target = lay_out(good, case, name)
    data = target.read_bytes()
    target.unlink()
    _place(kind, target, name, data)
    argv = [good["key"] if a == "K" else a for a in argv]
    before = snapshot(case)
    try:
        result = run_forked(argv, case, timeout=LIMIT_S)
    finally:
        if kind == "unreadable":
            target.chmod(0o600)
    after = snapshot(case)
    shown = f"{command} with {name} as {kind}: exit {result.code}\n{result.err[-1500:]}"
    assert result.code != HANG, f"hung for {LIMIT_S:.0f} s: {shown}"
    assert "Traceback" not in result.err + result.out and "internal error" not in result.err, \
        shown
    assert "escaped run_app" not in result.err, shown
    if result.code != 0:
        assert result.code in (1, 2), shown
        err = result.err.strip()
        assert err.startswith("hwnas: error:") and "\n" not in err, shown
    relative = target.relative_to(case).as_posix()
    if kind == "unreadable":  # restored to be compared: its mode was 0 before
        before[relative] = before[relative][:2] + (None,)
        after[relative] = after[relative][:2] + (None,)
    assert not (case / "pwned").exists(), f"a pickle ran code: {shown}"
    # The run's writer owns these: it appends after damaged history lines (they stay, as the
    # history's design says), takes the lock and replaces the front whole.
    owned = WRITER_FILES if writes else ()
    changed = sorted(p for p in before if after.get(p) != before[p]
                     and p not in owned and not (writes and p.startswith("run/plots")))
    assert not changed, f"changed {changed}: {shown}"
