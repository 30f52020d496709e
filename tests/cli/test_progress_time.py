"""Progress that tells the time (issue 38): on a terminal the bar is there from the search's
start, elapsed counts from the start and never again from 0, the ETA is a running estimate
(a slow first candidate does not make it 300x too long), notes go above the bar without a
stale copy of it, the numbers survive an 80-column terminal, and a one-shot sweep says its
setting, epoch and the time left for the whole sweep. A fake clock and a fake terminal:
nothing here depends on the machine's speed."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.cli.progress import ProgressDisplay
from hwnas.cli.progress_render import bar_line
from hwnas.cli.search_progress import SearchProgress, result_info
from tests.cli.screen import screen
from tests.tabular_helpers import write_synthetic_nb201

OBJECTIVES = ["accuracy", "latency_ms"]
NUMBERS = re.compile(r"(\d+)/(\d+) \((\d+)%\) elapsed (\d+:\d\d:\d\d) ETA (\d+:\d\d:\d\d|done|\?)")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def seconds(text: str) -> int:
    h, m, s = map(int, text.split(":"))
    return 3600 * h + 60 * m + s


def terminal(width: int = 80) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=width, color_system=None), out


def search_display(clock: Clock, width: int = 80, description: str = "search (random)",
                   plain: bool = False, stream=None):
    console, out = terminal(width)
    bar = ProgressDisplay(console, clock=clock, auto_refresh=False, plain=plain,
                          stream=stream, interval=0)
    task = bar.add_task(description, total=None, info="")
    return bar, task, SearchProgress(bar, task, result_info(OBJECTIVES)), out


def candidate(progress: SearchProgress, budget: int, replayed: bool = False,
              result: dict | None = None) -> None:
    progress({"event": "candidate", "budget": budget, "replayed": replayed,
              "record": {"result": result or {"accuracy": 0.9, "latency_ms": 1.5}}})


def shown(bar: ProgressDisplay, task: int, clock: Clock, width: int = 80) -> str:
    return bar_line(bar.tasks[task], clock(), width).plain


def test_the_bar_is_drawn_when_the_search_starts_not_after_its_first_candidate():
    clock = Clock()
    bar, task, progress, out = search_display(clock)
    with bar:
        clock.now = 4.0  # the inputs were checked, the table loaded
        progress({"event": "start", "budget": 20})
        drawn = screen(out.getvalue())
        assert any("search (random)" in row and "0/20 (0%) elapsed 0:00:04 ETA ?" in row
                   for row in drawn), drawn


def test_elapsed_counts_from_the_start_and_never_restarts():
    clock = Clock()
    bar, task, progress, _ = search_display(clock)
    with bar:
        clock.now = 5.0
        progress({"event": "start", "budget": 20})
        clock.now = 41.0  # the first candidate ends
        candidate(progress, 20)
        assert NUMBERS.search(shown(bar, task, clock)).group(4) == "0:00:41"
        clock.now = 50.0
        assert NUMBERS.search(shown(bar, task, clock)).group(4) == "0:00:50"
        clock.now = 77.0
        candidate(progress, 20)
        assert NUMBERS.search(shown(bar, task, clock)).group(4) == "0:01:17"


def test_the_eta_is_a_running_mean_not_the_first_candidate():
    """A tabular search: the first lookup carries the start-up (10 s), the others take 10 ms.
    After five, 195 left take about 2 s, not 195 x 10 s."""
    clock = Clock()
    lines = io.StringIO()
    bar, task, progress, _ = search_display(clock)
    plain, ptask, pprogress, _ = search_display(clock, plain=True, stream=lines)
    for display in (progress, pprogress):
        display({"event": "start", "budget": 200})
    clock.now = 10.0
    candidate(progress, 200)
    candidate(pprogress, 200)
    # one step: all a terminal has, and it redraws when a better estimate comes; a log line
    # would keep it, so it waits
    assert NUMBERS.search(shown(bar, task, clock)).group(5) == "0:33:10"
    assert NUMBERS.search(lines.getvalue().splitlines()[-1]).group(5) == "?"
    for _ in range(4):
        clock.now += 0.01
        candidate(progress, 200)
        candidate(pprogress, 200)
    for text in (shown(bar, task, clock), lines.getvalue().splitlines()[-1]):
        numbers = NUMBERS.search(text)
        assert numbers.group(1, 2) == ("5", "200"), text
        assert seconds(numbers.group(5)) == 2, text  # 195 x 0.01 s
    # it keeps running: slower candidates later raise it
    for _ in range(5):
        clock.now += 1.0
        candidate(progress, 200)
    mean = (clock.now - 10.0) / 9
    assert abs(seconds(NUMBERS.search(shown(bar, task, clock)).group(5)) - 190 * mean) <= 1


def test_the_eta_counts_down_between_candidates():
    clock = Clock()
    bar, task, progress, _ = search_display(clock)
    progress({"event": "start", "budget": 10})
    for t in (40.0, 70.0, 100.0):  # 30 s each after the first
        clock.now = t
        candidate(progress, 10)
    assert NUMBERS.search(shown(bar, task, clock)).group(5) == "0:03:30"
    clock.now = 110.0
    assert NUMBERS.search(shown(bar, task, clock)).group(5) == "0:03:20"


def test_replayed_candidates_are_not_timed():
    """A resumed run tells its 50 recorded candidates again in a blink: they are done, not a
    rate; the estimate is timed from the work done now."""
    clock = Clock()
    bar, task, progress, _ = search_display(clock)
    progress({"event": "start", "budget": 60})
    for _ in range(50):
        clock.now += 0.001
        candidate(progress, 60, replayed=True)
    for _ in range(3):
        clock.now += 20.0
        candidate(progress, 60)
    numbers = NUMBERS.search(shown(bar, task, clock))
    assert numbers.group(1, 2) == ("53", "60")
    assert numbers.group(5) == "0:02:20"  # 7 x 20 s


@pytest.mark.parametrize("width", [60, 80, 160])
def test_the_bar_fits_the_terminal_and_keeps_its_numbers(width):
    """rich's layout cut every column, numbers included (`search (proxyles… …`)."""
    clock = Clock()
    description = "search (a strategy with a long registry name)"
    bar, task, progress, _ = search_display(clock, width, description=description)
    progress({"event": "start", "budget": 200})
    for t in (3.0, 4.0, 5.0):
        clock.now = t
        candidate(progress, 200, result={"accuracy": 0.912345, "latency_ms": 12.3456789})
    text = shown(bar, task, clock, width)
    assert len(text) <= width, text
    numbers = NUMBERS.search(text)
    assert numbers and numbers.group(0) == "3/200 (2%) elapsed 0:00:05 ETA 0:03:17", text
    before = text.split(numbers.group(0))[0]
    if width < 100:  # the description gives way, shortened, not dropped
        assert before.startswith("search (a") and "…" in before, text
    else:  # room for all: the whole description, a bar, the last result
        assert before.startswith(description + " ━") and "accuracy 0.9123" in text, text


def test_a_one_shot_bar_says_setting_epoch_and_the_time_left_for_the_whole_sweep():
    """3 settings of 4 epochs, 10 s an epoch and 10 s to evaluate each derived network: 50 s
    a setting. At setting 2's third epoch (t=80 s) 70 s are left."""
    clock = Clock()
    lines = io.StringIO()
    bar, task, progress, out = search_display(clock, description="search (proxyless)")
    plain, ptask, pprogress, _ = search_display(clock, description="search (proxyless)",
                                                plain=True, stream=lines)

    def epoch(k: int, e: int) -> None:
        for display in (progress, pprogress):
            display({"event": "epoch", "setting_index": k, "settings": 3, "epoch": e,
                      "epochs": 4, "summary": f"[proxyless lambda={k}] epoch {e + 1}/4"})

    with bar:
        for display in (progress, pprogress):
            display({"event": "start", "budget": 3})
        for e in range(4):
            clock.now = 10.0 * (e + 1)
            epoch(0, e)
        clock.now = 50.0
        candidate(progress, 3)
        candidate(pprogress, 3)
        for e in range(3):
            clock.now = 60.0 + 10.0 * e
            epoch(1, e)
        text = shown(bar, task, clock)
        assert len(text) <= 80, text
        assert "setting 2/3 epoch 3/4 (53%) elapsed 0:01:20 ETA 0:01:10" in text, text
        assert text.startswith("search (proxyless) ━"), text
        last = lines.getvalue().splitlines()[-1]
        assert last.startswith("search (proxyless): setting 2/3 epoch 3/4 (53%) elapsed "
                               "0:01:20 ETA 0:01:10"), last
    # each epoch's summary is a line above the bar; the bar is there once, below them
    rows = [row for row in screen(out.getvalue()) if row]
    assert rows[:-1] == [f"[proxyless lambda={k}] epoch {e + 1}/4"
                         for k, n in ((0, 4), (1, 3)) for e in range(n)], rows
    assert rows[-1].startswith("search (proxyless)") and "setting 2/3 epoch 3/4" in rows[-1]


def test_a_budget_below_the_sweep_counts_the_settings_it_will_train():
    clock = Clock()
    bar, task, progress, _ = search_display(clock, description="search (darts)")
    progress({"event": "start", "budget": 2})
    clock.now = 10.0
    progress({"event": "epoch", "setting_index": 0, "settings": 5, "epoch": 0, "epochs": 2,
              "summary": "[darts lambda=0] epoch 1/2"})
    assert "setting 1/2 epoch 1/2" in shown(bar, task, clock)


def test_a_note_goes_above_the_bar_and_no_stale_copy_stays(monkeypatch):
    """The bug: a note written to stderr while the bar was drawn left the bar's row behind,
    with the note glued to its end; a second bar was drawn below."""

    class SameTerminal:  # stderr on the terminal the bar is drawn on, as in a shell
        def __init__(self, out: io.StringIO):
            self.out = out
            self.buffer = self  # what click writes to, past rich's redirection of stderr

        def write(self, text: str | bytes) -> int:
            return self.out.write(text.decode() if isinstance(text, bytes) else text)

        def flush(self) -> None:
            pass

        def isatty(self) -> bool:
            return True

    clock = Clock()
    bar, task, progress, out = search_display(clock)
    monkeypatch.setattr("sys.stderr", SameTerminal(out))
    with bar:
        progress({"event": "start", "budget": 20})
        for t in (36.0, 70.0):
            clock.now = t
            candidate(progress, 20)
            progress({"event": "notice", "summary": f"a note at {t:.0f} s"})
        clock.now = 71.0
    rows = [row for row in screen(out.getvalue()) if row]
    assert rows[:2] == ["hwnas: note: a note at 36 s", "hwnas: note: a note at 70 s"], rows
    bars = [row for row in rows if row.startswith("search (random)")]
    assert len(bars) == 1 and rows[-1] == bars[0], rows
    assert "2/20 (10%) elapsed 0:01:11" in bars[0], bars


def test_a_weight_sharing_search_is_not_timed_as_its_first_candidate():
    """SPOS searches once (minutes), then proposes its candidates: the search is not what
    each candidate costs."""
    clock = Clock()
    bar, task, progress, _ = search_display(clock, description="search (spos)")
    progress({"event": "start", "budget": 3})
    for e in range(5):
        clock.now = 60.0 * (e + 1)
        progress({"event": "epoch", "epoch": e, "summary": f"[spos] supernet epoch {e + 1}/5"})
    assert "[spos] supernet epoch 5/5" in shown(bar, task, clock, 120)
    clock.now = 310.0
    candidate(progress, 3)
    clock.now = 320.0
    candidate(progress, 3)
    assert NUMBERS.search(shown(bar, task, clock)).group(5) == "0:00:10"


def test_a_search_on_an_80_column_terminal(tmp_path, monkeypatch, capsys):
    """The whole command, its console a terminal of 80 columns: the bar is drawn before the
    first candidate, keeps its numbers, and is on screen once at the end."""
    import hwnas.cli.render as render

    console, out = terminal(80)
    monkeypatch.setattr(render, "console", console)  # the console progress_bar() draws on
    synthetic = write_synthetic_nb201(tmp_path / "synthetic.csv")
    code = run_app(app, ["search", "--space", "nb201", "--estimator", "tabular",
                         "--estimator-opt", f"benchmark={synthetic}", "--objectives",
                         "accuracy,latency:pixel3", "--method", "random", "--budget", "4",
                         "--run-dir", str(tmp_path / "run")])
    assert code == 0, capsys.readouterr().err
    drawn = out.getvalue().split("run written to")[0]  # the report follows the bar
    first = screen(drawn.split("\r")[0])  # the first drawing, made by the "start" event
    assert first[0].startswith("search (random) ━") and "0/4 (0%) elapsed" in first[0], drawn
    bars = [row for row in screen(drawn) if row]
    assert len(bars) == 1 and len(bars[0]) <= 80, bars
    assert re.search(r" 4/4 \(100%\) elapsed \d+:\d\d:\d\d ETA done", bars[0]), bars
