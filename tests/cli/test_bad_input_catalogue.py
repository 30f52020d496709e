"""A catalogue of bad input, across every command: each is refused with exit 2 and one line
starting `hwnas: error:` (no traceback, never `internal error`), and nothing in the working
directory is created or changed, whether the bad part is a number, a path, a flag combination
or a file's content.

Each case is data: the arguments, the words the message must hold (what is wrong, what is
allowed, the next step), and the files to lay out first. The CLI runs in-process (`run_app`)
in a fresh temporary working directory, so relative outputs (runs/, latency_tables/) land
there and the check sees them; the whole catalogue takes seconds.

The tree snapshot compares names of everything and size and mtime of files. Directory mtimes
are left out on purpose: checking that an output folder is writable probes it with an empty
temporary folder, made and removed at once.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.tabular_helpers import FIXTURE_CSV, ROW0, ROW1, write_synthetic_nb201

TINY = {"resolution": 16, "width_mult": 0.25}
TINY_ARGS = ("--space-opt", "resolution=16", "--space-opt", "width_mult=0.25")
HUGE = str(2**70)  # the seed and budget the black-box test tried
LONG = "x" * 300  # a file name longer than any file system allows (255 bytes)
BENCH_HEADER = "index,arch_str,nats_c10_test_acc_200ep,hw_c10_pixel3_latency_ms\n"


# -- what the cases lay out in the working directory ------------------------------------------
def table(name: str = "t.json", entry: dict | None = None, **header) -> Callable[[Path], None]:
    """A latency table of the tiny proxyless space (made-up values, nothing measured), with
    `header` fields and `entry` stats replaced."""

    def write(root: Path) -> None:
        from hwnas.spaces.proxyless import ProxylessSpace

        stats = {"p50": 0.1, "p90": 0.12, "mean": 0.11, "std": 0.01, "n": 30, **(entry or {})}
        raw = {"schema": 1, "units": "ms", "backend": "ort-cpu",
               "device": {"cpu": "test-cpu", "logical_cores": 2}, "batch": 1, "dtype": "fp32",
               "threads": 1, "space": {"name": "proxyless", "config": TINY},
               "entries": {s.key: dict(stats) for s in ProxylessSpace(**TINY).all_ops()},
               **header}
        (root / name).write_text(json.dumps(raw))

    return write


def text(name: str, content: str | bytes) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)

    return write


def fifo(name: str) -> Callable[[Path], None]:
    return lambda root: os.mkfifo(root / name)


def symlink_loop(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).symlink_to(root / name)


def benchmark(acc: str = "90.0", lat: str = "1.5") -> Callable[[Path], None]:
    """A two-row nb201-hw benchmark whose first row has the given cells."""
    return text("b.csv", f"{BENCH_HEADER}0,{ROW0},{acc},{lat}\n1,{ROW1},91.0,2.0\n")


class _RunsCode:
    """A pickle that would run a shell command if unpickled without restriction."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


def cifar(content: bytes) -> Callable[[Path], None]:
    """A CIFAR-10 folder whose six batches all hold `content`."""

    def write(root: Path) -> None:
        folder = root / "c" / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            (folder / name).write_bytes(content)

    return write


def imagefolder(root: Path) -> None:
    for label in ("cat", "dog"):
        (root / "img" / label).mkdir(parents=True)
        (root / "img" / label / "a.png").write_bytes(b"not a png at all")


def run_config(content: str, name: str = "run") -> Callable[[Path], None]:
    return text(f"{name}/config.json", content)


GOOD_SEARCH = json.dumps({"search": {"table": "", "budget": 2}})
NESTED = "[" * 100_000 + "]" * 100_000


def both(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        for setup in setups:
            setup(root)

    return write


# -- the cases --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    needles: tuple[str, ...]
    setup: Callable[[Path], None] | None = None


def search(*args: str) -> tuple[str, ...]:
    return ("search", *args)


def on_table(*args: str) -> tuple[str, ...]:
    """A search of the tiny space on t.json, refused before anything trains."""
    return ("search", "--table", "t.json", *TINY_ARGS, "--budget", "1", "--run-dir", "run",
            *args)


def tabular(bench: str, objectives: str = "accuracy,latency:pixel3",
            costs: str = "latency:pixel3") -> tuple[str, ...]:
    return ("search", "--space", "nb201", "--estimator", "tabular", "--estimator-opt",
            f"benchmark={bench}", "--objectives", objectives, "--estimator-opt",
            f"costs={costs}", "--budget", "2", "--run-dir", "run")


PLAIN = ("--objectives", "accuracy,params", "--budget", "1")  # a search needing no table

CASES = [
    # search: numbers
    Case("search-seed-2**70", search(*PLAIN, "--seed", HUGE), ("--seed", "4294967295")),
    Case("search-seed-negative", search(*PLAIN, "--seed", "-1"), ("--seed", "0<=x")),
    Case("search-budget-2**63", search("--objectives", "accuracy,params", "--budget",
                                       str(2**63)), ("--budget", "10000000")),
    Case("search-budget-0", search("--budget", "0"), ("--budget",)),
    Case("search-ray-gpus-none-here", search(*PLAIN, "--evaluator", "ray", "--evaluator-opt",
                                             "num_gpus=64"), ("num_gpus", "GPUs this machine")),
    Case("search-ray-cpus-beyond-local", search(*PLAIN, "--evaluator", "ray", "--evaluator-opt",
                                                "num_cpus=4096"), ("num_cpus", "local_cpus")),
    Case("search-run-dir-empty", search(*PLAIN, "--run-dir", ""), ("--run-dir", "not a path")),
    Case("search-ask-0", search(*PLAIN, "--ask", "0"), ("--ask",)),
    Case("search-latency-stat", search("--latency-stat", "p99"), ("p99", "p50")),
    # search: where the run goes
    Case("search-run-dir-under-a-file", search(*PLAIN, "--run-dir", "f/run"),
         ("--run-dir", "is a file, not a folder"), text("f", "x")),
    Case("search-run-dir-in-proc", search(*PLAIN, "--run-dir", "/proc/hwnas-run"),
         ("--run-dir", "/proc")),
    Case("search-run-dir-name-too-long", search(*PLAIN, "--run-dir", LONG),
         ("--run-dir", "bytes long", "255")),
    Case("search-run-dir-symlink-loop", search(*PLAIN, "--run-dir", "loop/run"),
         ("--run-dir", "symbolic links"), symlink_loop("loop")),
    Case("search-run-dir-is-a-file", search(*PLAIN, "--run-dir", "f"),
         ("--run-dir", "is a file"), text("f", "x")),
    Case("search-run-dir-holds-a-run", search(*PLAIN, "--run-dir", "run"),
         ("already holds a run", "--resume run"), run_config(GOOD_SEARCH)),
    Case("search-default-run-dir-under-a-file", search(*PLAIN), ("--run-dir", "runs"),
         text("runs", "a file where runs/ goes")),
    # search: --resume keeps a run's configuration
    Case("resume-with-run-dir", search("--resume", "run", "--run-dir", "other"),
         ("--run-dir", "--resume", "saved configuration")),
    Case("resume-with-space", search("--resume", "run", "--space", "nb201"),
         ("--space", "--resume", "--run-dir NEW")),
    Case("resume-with-seed-and-strategy-opt",
         search("--resume", "run", "--seed", "3", "--strategy-opt", "population=4"),
         ("--seed", "--strategy-opt", "drop them")),
    Case("resume-garbage-config", search("--resume", "run"),
         ("config.json", "not readable JSON", "another --run-dir"), run_config("{garbage")),
    Case("resume-nested-config", search("--resume", "run"), ("nested too deeply",),
         run_config(NESTED)),
    Case("resume-config-not-an-object", search("--resume", "run"), ("no 'search' object",),
         run_config("[1, 2]")),
    Case("resume-config-bad-budget", search("--resume", "run"),
         ("is damaged", "'budget'", "'abc'"),
         run_config(json.dumps({"search": {"table": "", "budget": "abc"}}))),
    Case("resume-config-is-a-fifo", search("--resume", "run"), ("not a regular file",),
         both(text("run/x", ""), fifo("run/config.json"))),
    Case("resume-not-a-run", search("--resume", "nothing"), ("not a run directory",)),
    Case("resume-takes-budget-and-json", search("--resume", "nothing", "--budget", "50",
                                                "--json"), ("not a run directory",)),
    Case("resume-with-allow-mismatch", search("--resume", "run", "--allow-mismatch"),
         ("--allow-mismatch", "--resume")),
    # search: the latency table
    Case("table-fifo", search("--table", "f.json"), ("not a regular file", "FIFO"),
         fifo("f.json")),
    Case("table-nested", search("--table", "t.json"), ("nested too deeply",),
         text("t.json", NESTED)),
    Case("table-empty", search("--table", "t.json"), ("not readable JSON",), text("t.json", "")),
    Case("table-absent", search("--table", "none.json"), ("does not exist", "hwnas profile")),
    Case("table-batch-8", on_table(), ("batch=8", "hwnas export", "--allow-mismatch"),
         table(batch=8)),
    Case("table-fp16", on_table(), ("dtype='fp16'", "hwnas export", "--allow-mismatch"),
         table(dtype="fp16")),
    Case("table-latency-1e308", on_table(), ("p50=1e+308", "finite number in [0, 1e+09]"),
         table(entry={"p50": 1e308})),
    Case("table-latency-negative", on_table(), ("p90=-1", "[0, 1e+09]"),
         table(entry={"p90": -1})),
    Case("table-latency-inf", on_table(), ("mean=inf",), table(entry={"mean": float("inf")})),
    Case("table-batch-not-a-number", on_table(), ("'batch' must be an int >= 1", "'abc'"),
         table(batch="abc")),
    Case("table-device-not-an-object", on_table(), ("'device' must be an object",),
         table(device="cpu")),
    # search: options of plug-ins
    Case("space-opt-unknown", search("--space-opt", "foo=1"),
         ("unknown option 'foo'", "resolution")),
    Case("strategy-opt-abc", search(*PLAIN, "--strategy-opt", "population=abc"),
         ("'population'", "int in [2, 10000]", "'abc'")),
    Case("strategy-opt-no-equals", search("--strategy-opt", "population"), ("KEY=VALUE",)),
    Case("estimator-opt-nan", search(*PLAIN, "--estimator-opt", "lr=NaN"), ("'lr'", "nan")),
    # search: the dataset
    Case("dataset-unknown", search("--dataset", "cifar100:x"), ("unknown dataset", "cifar10")),
    Case("cifar-garbage-pickles", search(*PLAIN, "--dataset", "cifar10:c"),
         ("data_batch_1", "is not a CIFAR-10"), cifar(b"garbage\x00\x01\x02")),
    Case("cifar-hostile-pickles", search(*PLAIN, "--dataset", "cifar10:c"),
         ("refusing to unpickle", "system"), cifar(pickle.dumps(_RunsCode()))),
    Case("cifar-wrong-structure", search(*PLAIN, "--dataset", "cifar10:c"),
         ("is not a CIFAR-10 batch", "3072"), cifar(pickle.dumps({"data": [1, 2, 3]}))),
    Case("imagefolder-garbage-images", search(*PLAIN, "--dataset", "imagefolder:img"),
         ("a.png", "not a readable image"), imagefolder),
    # search: a tabular benchmark
    Case("benchmark-header-only", tabular("b.csv"), ("header but no rows",),
         text("b.csv", BENCH_HEADER)),
    Case("benchmark-lacks-architectures", tabular(str(FIXTURE_CSV)),
         ("295 rows", "15,625 architectures", "--estimator-opt benchmark=")),
    # a cost with gaps is searched (those cells ruled out unevaluated); one with no value is not
    Case("benchmark-cost-column-empty", tabular("{empty}", "accuracy,latency:edgegpu",
                                                "latency:edgegpu"),
         ("latency:edgegpu", "hw_c10_edgegpu_latency_ms", "latency:pixel3")),
    Case("benchmark-negative-accuracy", tabular("b.csv"),
         ("row 0 (line 2)", "nats_c10_test_acc_200ep", "accuracy in [0, 100]"),
         benchmark(acc="-12.5")),
    Case("benchmark-accuracy-over-100", tabular("b.csv"), ("accuracy in [0, 100]",),
         benchmark(acc="250")),
    Case("benchmark-negative-latency", tabular("b.csv"),
         ("row 0", "hw_c10_pixel3_latency_ms", "-1.5", "cost"), benchmark(lat="-1.5")),
    Case("benchmark-latency-1e308", tabular("b.csv"), ("1e+308", "[0, 1e+09]"),
         benchmark(lat="1e308")),
    Case("benchmark-latency-inf", tabular("b.csv"), ("inf", "cost"), benchmark(lat="inf")),
    Case("benchmark-fifo", tabular("b.csv"), ("not a regular file",), fifo("b.csv")),
    # bench
    Case("bench-budget-2**63", ("bench", "--benchmark", "b.csv", "--budget", str(2**63)),
         ("--budget", "10000000")),
    Case("bench-seeds-0", ("bench", "--benchmark", "b.csv", "--seeds", "0"), ("--seeds",)),
    Case("bench-out-under-a-file", ("bench", "--benchmark", "{synthetic}", "--out", "f/o"),
         ("--out", "is a file, not a folder"), text("f", "x")),
    Case("bench-out-name-too-long", ("bench", "--benchmark", "{synthetic}", "--out", LONG),
         ("--out", "bytes long")),
    Case("bench-default-out-under-a-file", ("bench", "--benchmark", "{synthetic}"),
         ("--out", "runs"), text("runs", "x")),
    Case("bench-header-only", ("bench", "--benchmark", "b.csv", "--out", "o"),
         ("header but no rows",), text("b.csv", BENCH_HEADER)),
    Case("bench-negative-latency", ("bench", "--benchmark", "b.csv", "--out", "o"),
         ("hw_c10_pixel3_latency_ms", "cost"), benchmark(lat="-3")),
    Case("bench-strategy-opt-abc", ("bench", "--benchmark", "{synthetic}", "--methods",
                                    "evolution", "--strategy-opt", "evolution:population=abc",
                                    "--out", "o"), ("'population'", "'abc'")),
    Case("bench-methods-empty", ("bench", "--benchmark", "{synthetic}", "--methods", ""),
         ("--methods", "empty method", "omit --methods")),
    Case("bench-methods-empty-item", ("bench", "--benchmark", "{synthetic}", "--methods",
                                      "random,,nsga2"), ("--methods", "empty method")),
    Case("bench-unknown-method", ("bench", "--benchmark", "{synthetic}", "--methods", "randon"),
         ("unknown strategy 'randon'", "'random'")),
    # pareto
    Case("pareto-not-a-run", ("pareto", "nothing"), ("not a run directory",)),
    Case("pareto-run-is-a-file", ("pareto", "f"), ("is a file",), text("f", "x")),
    # export
    Case("export-arch-and-pick", ("export", "run", "--arch", "abc", "--pick", "latency_ms<=3"),
         ("--arch and --pick", "give one")),
    Case("export-garbage-config", ("export", "run"), ("not readable JSON",),
         run_config("{garbage")),
    Case("export-config-without-search", ("export", "run"), ("no 'search' object",),
         run_config("{}")),
    Case("export-out-json", ("export", "run", "--out", "model.json"), ("must end in .onnx",),
         run_config(GOOD_SEARCH)),
    Case("export-out-under-a-file", ("export", "run", "--out", "f/m.onnx"),
         ("--out", "is a file, not a folder"), both(run_config(GOOD_SEARCH), text("f", "x"))),
    Case("export-not-a-run", ("export", "nothing"), ("not a run directory",)),
    Case("export-default-out-is-a-file", ("export", "run"),
         ("the default --out", "run/exports", "is a file", "pass --out"),
         both(run_config(GOOD_SEARCH), text("run/exports", "x"))),
    # train: the recipe, then the run and its candidate, before any epoch
    Case("train-arch-and-pick", ("train", "run", "--arch", "abc", "--pick", "latency_ms<=3"),
         ("--arch and --pick", "give one")),
    Case("train-not-a-run", ("train", "nothing"), ("not a run directory",)),
    Case("train-garbage-config", ("train", "run"), ("not readable JSON",),
         run_config("{garbage")),
    Case("train-no-candidates", ("train", "run"), ("no evaluated candidates",),
         run_config(GOOD_SEARCH)),
    Case("train-epochs-0", ("train", "run", "--epochs", "0"), ("--epochs", "1<=x<=10000")),
    Case("train-lr-negative", ("train", "run", "--lr", "-1"),
         ("'lr' option of final training", "(0, 10]"), run_config(GOOD_SEARCH)),
    Case("train-preset", ("train", "run", "--preset", "quick"), ("quick", "paper", "fast")),
    Case("train-seed-2**70", ("train", "run", "--seed", HUGE), ("--seed", "4294967295")),
    # profile: every output checked before the first op is timed
    Case("profile-out-under-a-file", ("profile", *TINY_ARGS, "--out", "f/t.json"),
         ("--out", "is a file, not a folder"), text("f", "x")),
    Case("profile-out-txt", ("profile", *TINY_ARGS, "--out", "t.txt"), ("must end in .json",)),
    Case("profile-out-in-proc", ("profile", *TINY_ARGS, "--out", "/proc/hwnas.json"),
         ("--out", "/proc")),
    Case("profile-out-name-too-long", ("profile", *TINY_ARGS, "--out", LONG + ".json"),
         ("--out", "bytes long")),
    Case("profile-out-symlink-loop", ("profile", *TINY_ARGS, "--out", "loop/t.json"),
         ("symbolic links",), symlink_loop("loop")),
    Case("profile-default-out-under-a-file", ("profile", *TINY_ARGS),
         ("latency_tables", "is a file"), text("latency_tables", "x")),
    Case("profile-bundle-under-a-file", ("profile", *TINY_ARGS, "--bundle", "f/b.zip"),
         ("--bundle", "is a file, not a folder"), text("f", "x")),
    Case("profile-batch-huge", ("profile", "--batch", str(10**9)), ("--batch", "4096")),
    Case("profile-threads-huge", ("profile", "--threads", "100000"), ("--threads", "1024")),
    Case("profile-space-opt-unknown", ("profile", "--space-opt", "foo=1"),
         ("unknown option 'foo'",)),
    Case("profile-dtype", ("profile", "--dtype", "fp64"), ("fp64", "fp32")),
    # demo: its folder checked before minutes of profiling
    Case("demo-out-under-a-file", ("demo", "--out", "f/demo"),
         ("--out", "is a file, not a folder"), text("f", "x")),
    Case("demo-out-in-proc", ("demo", "--out", "/proc/hwnas-demo"), ("--out", "/proc")),
    Case("demo-out-holds-a-demo", ("demo", "--out", "d"), ("already holds a demo", "evolution"),
         run_config(GOOD_SEARCH, "d/evolution")),
    Case("demo-seed-2**70", ("demo", "--seed", HUGE), ("--seed", "4294967295")),
    Case("demo-budget-1", ("demo", "--budget", "1"), ("--budget",)),
    # tables
    Case("tables-show-fifo", ("tables", "show", "f.json"), ("not a regular file",),
         fifo("f.json")),
    Case("tables-show-nested", ("tables", "show", "t.json"), ("nested too deeply",),
         text("t.json", NESTED)),
    Case("tables-show-1e308", ("tables", "show", "t.json"), ("1e+308",),
         table(entry={"p50": 1e308})),
    Case("tables-show-entries-not-an-object", ("tables", "show", "t.json"), ("'entries'",),
         table(entries=[1, 2])),
    Case("tables-show-folder", ("tables", "show", "d.json"), ("is a directory",),
         text("d.json/x", "")),
    Case("tables-diff-empty", ("tables", "diff", "t.json", "e.json"), ("e.json", "not readable"),
         both(table(), text("e.json", ""))),
    Case("tables-validate-out-under-a-file", ("tables", "validate", "t.json", "--out",
                                              "f/r.json"), ("--out", "is a file, not a folder"),
         both(table(), text("f", "x"))),
    Case("tables-validate-out-txt", ("tables", "validate", "t.json", "--out", "r.txt"),
         ("must end in .json",), table()),
    Case("tables-validate-samples-1", ("tables", "validate", "t.json", "--samples", "1"),
         ("--samples",), table()),
    Case("tables-validate-noise-samples-negative", ("tables", "validate", "t.json",
                                                    "--noise-samples", "-1"),
         ("--noise-samples",), table()),
    Case("tables-validate-default-out-is-a-folder", ("tables", "validate", "t.json"),
         ("the default --out", "t.validation.json", "is a folder"),
         both(table(), text("t.validation.json/x", ""))),
    Case("tables-validate-fifo", ("tables", "validate", "f.json"), ("not a regular file",),
         fifo("f.json")),
    Case("tables-calibrate-seed-2**70", ("tables", "calibrate", "t.json", "--seed", HUGE),
         ("--seed",), table()),
    Case("tables-calibrate-samples-3", ("tables", "calibrate", "t.json", "--samples", "3"),
         ("--samples",), table()),
    Case("tables-fill-bad-threads", ("tables", "fill", "t.json"), ("'threads'",),
         table(threads=0)),
    Case("tables-import-fifo", ("tables", "import", "f.json"), ("not a regular file",),
         fifo("f.json")),
    Case("tables-import-nested", ("tables", "import", "t.json"), ("nested too deeply",),
         text("t.json", NESTED)),
    Case("tables-import-out-under-a-file", ("tables", "import", "t.json", "--out", "f/t.json"),
         ("--out", "is a file, not a folder"), both(table(), text("f", "x"))),
    Case("tables-import-out-txt", ("tables", "import", "t.json", "--out", "t2.txt"),
         ("must end in .json",), table()),
    Case("tables-import-default-out-under-a-file", ("tables", "import", "t.json"),
         ("--tables-dir", "is a file, not a folder"),
         both(table(), text("latency_tables/test-2c", "x"))),  # the device's folder
    Case("tables-import-fbnet-without-metric", ("tables", "import", "x.csv"),
         ("needs --metric", "pixel3_latency")),
    # list
    Case("list-unknown-kind", ("list", "spacez"), ("cannot list 'spacez'", "spaces")),
]


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, str]:
    """Benchmarks with a row per NB201 cell (written once, outside the working directory):
    `synthetic`, complete; `empty`, plus an edgegpu latency column with no value."""
    folder = tmp_path_factory.mktemp("catalogue")
    synthetic = write_synthetic_nb201(folder / "synthetic.csv")
    lines = synthetic.read_text().splitlines()
    empty = [lines[0] + ",hw_c10_edgegpu_latency_ms"] + [f"{line}," for line in lines[1:]]
    (folder / "empty.csv").write_text("\n".join(empty) + "\n")
    return {"synthetic": str(synthetic), "empty": str(folder / "empty.csv")}


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root: files by (size, mtime), folders and others by kind only."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            kind = "dir" if os.path.isdir(path) and not os.path.islink(path) else "other"
            out[os.path.relpath(path, root)] = ((st.st_size, st.st_mtime_ns)
                                                if os.path.isfile(path) else (kind,))
    return out


def assert_refused(capsys, argv: list[str], *needles: str) -> str:
    code = run_app(app, argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, (code, err)
    assert err.startswith("hwnas: error:") and "\n" not in err, err
    assert "Traceback" not in err and "internal error" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(case, shared, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    if case.setup:
        case.setup(work)
    monkeypatch.chdir(work)
    monkeypatch.delenv("HWNAS_DEBUG", raising=False)
    before = snapshot(work)
    assert_refused(capsys, [a.format(**shared) for a in case.argv], *case.needles)
    assert snapshot(work) == before


def test_the_catalogue_covers_every_command():
    covered = {c.argv[0] for c in CASES}
    assert covered >= {"search", "bench", "pareto", "train", "export", "profile", "demo",
                       "tables", "list"}
    assert len(CASES) >= 60
    assert {c.argv[1] for c in CASES if c.argv[0] == "tables"} >= {
        "show", "diff", "validate", "calibrate", "fill", "import"}
