"""Text that reaches a shell or a terminal (issue 29, class 5). A run folder named
`runs/$(touch pwned);x 'q' [b]<ESC>[2J` is made by `hwnas search`; every command that prints a
command naming it (a `next:` hint, `runs show`'s resume line, a refusal's way out) must print
one that, pasted into bash, runs nothing and passes the folder's name back as one word; and
no output may carry the raw escape (it would clear the screen).

Generated over the commands that print such a line; each runs the real entry point (a
subprocess) on its own copy of the run, and each command found is pasted into bash with
`hwnas` defined as a function that records its arguments.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hwnas.quoting import printable, shell_word
from tests.cli.helpers import hwnas
from tests.tabular_helpers import write_synthetic_nb201

RUN = "runs/$(touch pwned);x 'q' [b]\x1b[2J"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def search_args(run: str, budget: int = 4) -> list[str]:
    return ["search", "--space", "nb201", "--estimator", "tabular", "--estimator-opt",
            "benchmark=b.csv", "--estimator-opt", "costs=latency:pixel3", "--objectives",
            "accuracy,latency:pixel3", "--method", "random", "--budget", str(budget),
            "--run-dir", run]


def pasted(command: str, where: Path) -> list[str]:
    """The arguments `hwnas` receives when `command` is pasted into bash in `where`."""
    script = 'hwnas() { for a in "$@"; do printf "%s\\0" "$a"; done; }; ' + command
    proc = subprocess.run(["bash", "-c", script], cwd=where, capture_output=True, timeout=30)
    assert proc.returncode == 0, (command, proc.stderr)
    return os.fsdecode(proc.stdout).split("\0")[:-1]


def commands_in(text: str) -> list[str]:
    """Every `hwnas ...` command in the output: in backticks, or after `next:` or in a table
    cell up to the end of the line, three spaces or ", then"."""
    found = re.findall(r"`(hwnas [a-z][^`]*)`", text)
    for line in re.sub(r"`[^`]*`", "", text).splitlines():
        found += [m.group(0) for m in re.finditer(r"hwnas [a-z]+ .*?(?=\s{3}|, then |$)", line)]
    return found


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, str]:
    """The hostile run, made by `hwnas search` (its output is the first case), and its
    knee's key."""
    root = tmp_path_factory.mktemp("quoting")
    write_synthetic_nb201(root / "b.csv")
    proc = hwnas(*search_args(RUN), cwd=root, columns=250)
    assert proc.returncode == 0, proc.stderr
    (root / "search.out").write_text(proc.stdout + proc.stderr)
    knee = json.loads((root / RUN / "pareto.json").read_text())["front"][0]["arch_key"]
    return root, knee


def _budget(case: Path, budget: int) -> None:
    config = json.loads((case / RUN / "config.json").read_text())
    config["search"]["budget"] = budget
    (case / RUN / "config.json").write_text(json.dumps(config))


def _damaged_line(case: Path) -> None:
    with (case / RUN / "history.jsonl").open("a") as fh:
        fh.write("not a record\n")


CASES = {  # name -> (argv, preparation of the case's copy)
    "search (its next: line)": (None, None),
    "search into a run that exists": (search_args(RUN), None),
    "search --resume of a finished run": (["search", "--resume", RUN, "--budget", "4"], None),
    "search --resume of a locked run": (["search", "--resume", RUN, "--budget", "6"], "lock"),
    "runs show of an incomplete run": (["runs", "show", RUN], lambda c: _budget(c, 6)),
    "runs with an unreadable history line": (["runs", "runs"], _damaged_line),
    "runs FOLDER RUN": (["runs", "runs", RUN], None),
    "export without weights": (["export", RUN, "--arch", "KEY"], None),
    "export --arch and --pick": (["export", RUN, "--arch", "KEY", "--pick", "accuracy>=0"],
                                 None),
    "train --arch and --pick": (["train", RUN, "--arch", "KEY", "--pick", "accuracy>=0"],
                                None),
}


@pytest.mark.parametrize("case_name", list(CASES))
def test_printed_commands_paste_safely_and_names_are_escaped(made, tmp_path, case_name):
    from hwnas.errors import RunLockedError
    from hwnas.fileio import exclusive_lock

    root, knee = made
    argv, prepare = CASES[case_name]
    case = tmp_path / "case"
    shutil.copytree(root, case)
    if argv is None:
        text = (case / "search.out").read_text()
    else:
        argv = [knee if a == "KEY" else a for a in argv]
        if callable(prepare):
            prepare(case)
        if prepare == "lock":  # a live writer: this test process holds the run's lock
            with exclusive_lock(case / RUN / "lock", RunLockedError):
                proc = hwnas(*argv, cwd=case, columns=250)
        else:
            proc = hwnas(*argv, cwd=case, columns=250)
        text = proc.stdout + proc.stderr
        assert "internal error" not in text and "Traceback" not in text, text
    assert not CONTROL.search(text.replace("\n", "")), f"a raw control character: {text!r}"
    assert "\\x1b[2J" in text, text  # the name is shown, its escape written out
    commands = [c for c in commands_in(text) if "pwned" in c]
    assert commands, f"no command naming the run in: {text}"
    paste_in = tmp_path / "shell"
    paste_in.mkdir()
    for command in commands:
        args = pasted(command, paste_in)
        assert not (paste_in / "pwned").exists(), f"pasting ran code: {command}"
        assert RUN in args, (command, args)
    assert not (case / "pwned").exists()


@pytest.mark.parametrize("word", [
    "runs/r1", "a b", "it's", 'say "hi"', "$(touch pwned)", "`touch pwned`", "a;b|c&d>e",
    "back\\slash", "tab\there", "new\nline", "esc\x1b[2J", "csi\x9b2J", "bidi\u202etxt",
    os.fsdecode(b"not-utf8-\xff"), "", "-n", "~root", "*", "!!"])
def test_a_shell_word_pastes_back_as_itself_and_shows_no_control_character(word, tmp_path):
    quoted = shell_word(word)
    assert not CONTROL.search(quoted) and "\u202e" not in quoted, quoted
    assert pasted(f"hwnas x {quoted}", tmp_path) == ["x", word]
    assert not any(tmp_path.iterdir())


def test_printable_escapes_what_acts_on_a_terminal_and_keeps_the_rest():
    assert printable("runs/a\x1b[2Jb\x07\r") == "runs/a\\x1b[2Jb\\x07\\x0d"
    assert printable("ok: ±0.5 µs, naïve\n\tnext") == "ok: ±0.5 µs, naïve\n\tnext"
    assert printable(os.fsdecode(b"r\xff")) == "r\\xff"
    assert printable("a\u202eb") == "a\\u202eb"
