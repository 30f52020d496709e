"""Every command of the README's walkthrough ("The command line"), run as written.

The commands are read from the README itself, so a command added there is run here too. Only
sizes are shrunk (samples, budget, seeds, a tiny proxyless space) and placeholders filled in
(TABLE, runs/<run>, bounds a tiny run can meet); the flags are the README's. `hwnas demo` is
the one command not run: it is `make demo` (minutes), and the same workflow runs here
command by command.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.cli.helpers import ROOT, hwnas
from tests.tabular_helpers import FULL_CSV

TINY_SPACE = ["--space-opt", "resolution=16", "--space-opt", "width_mult=0.25"]
NOT_RUN = {"demo": "`make demo` runs it (minutes); its steps are the commands run here"}
# README value -> the value a tiny run uses (sizes, and bounds a tiny network can meet)
SHRINK = {"--samples 60": "--samples 6", "--samples 100": "--samples 4 --noise-samples 3",
          "--budget 60": "--budget 3", "--budget 500": "--budget 20", "--seeds 10": "--seeds 1",
          "latency_ms<=3": "latency_ms<=1000", "latency_ms<=2.5": "latency_ms<=1000",
          "accuracy>=0.9": "accuracy>=0"}


def walkthrough() -> list[str]:
    """The `hwnas ...` lines of the README's first code block under "## The command line",
    continuation lines joined and comments dropped."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## The command line", 1)[1]
    block = section.split("```", 2)[1].split("\n", 1)[1]
    block = block.replace("\\\n", " ")
    lines = [line.split(" #")[0].strip() for line in block.splitlines()]
    return [" ".join(line.split()) for line in lines if line.startswith("hwnas")]


def verb(command: str) -> str:
    words = shlex.split(command)[1:]
    return words[0] if words else ""


def concrete(command: str, root: Path, table: Path, run: Path) -> list[str]:
    for old, new in SHRINK.items():
        command = command.replace(old, new)
    command = (command.replace("latency_tables/<device>/<table>.json", str(table))
               .replace("TABLE", str(table))
               .replace("[runs/<other> ...]", "").replace("[runs/]", str(root / "runs"))
               .replace("runs/<run>", str(run))
               .replace("[strategies|estimators|...]", "strategies")
               .replace("../shared/benchmarks/nb201_hw/nb201_hw.csv", str(FULL_CSV)))
    args = shlex.split(command)[1:]
    if args and args[0] == "profile":
        args += [*TINY_SPACE, "--threads", "1", "-o", str(table)]
    if args and args[0] == "search":
        args += [*TINY_SPACE, "--run-dir", str(run)]
    if args and args[0] == "train":
        args += ["--epochs", "1"]  # the recipe's 30 epochs would be most of the test's time
    if args and args[0] == "bench":
        args += ["--methods", "random,evolution", "--out", str(root / "bench")]
    for i, a in enumerate(args):  # outputs go to the test's folder
        if a in ("-o", "--csv") and i + 1 < len(args) and not Path(args[i + 1]).is_absolute():
            args[i + 1] = str(root / args[i + 1])
    return args


def test_the_walkthrough_is_found_and_names_the_whole_path():
    verbs = {verb(c) for c in walkthrough()}
    assert {"profile", "tables", "search", "pareto", "runs", "train", "export", "list",
            "bench"} <= verbs


@pytest.mark.slow
@pytest.mark.skipif(not FULL_CSV.is_file(), reason=f"the README's benchmark {FULL_CSV} is absent")
def test_every_walkthrough_command_runs_as_written(tmp_path):
    table, run = tmp_path / "table.json", tmp_path / "runs" / "run"
    ran = []
    for command in walkthrough():
        if verb(command) in NOT_RUN:
            continue
        args = concrete(command, tmp_path, table, run)
        proc = hwnas(*args, cwd=tmp_path)
        assert proc.returncode == 0, (command, args, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, command
        ran.append(verb(command))
    assert re.search(r"\d+\.\d+", hwnas("--version").stdout)
    assert (tmp_path / "model.onnx").is_file() and (tmp_path / "front.csv").is_file()
    assert run.joinpath("history.jsonl").read_text().count("\n") == 3
    assert set(ran) | set(NOT_RUN) == {verb(c) for c in walkthrough()}
