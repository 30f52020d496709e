"""A task's bar on a terminal, as one line that fits the terminal's width.

    search (random) ━━━━━━━━━━━━━━━━ 12/200 (6%) elapsed 0:00:14 ETA 0:03:40  accuracy 0.93

The numbers (done/total or a sweep's setting and epoch, the percentage, elapsed, ETA) are
never cut: they are what a bar is for. What gives way when the line is too wide, in order: the
result shown after them, then the bar's length, then the description, shortened with an
ellipsis (rich's own table layout cut every column instead, down to `search (proxyles… …`).
"""

from __future__ import annotations

from rich.text import Text

from hwnas.cli.progress_state import TaskState, clock

MIN_DESCRIPTION = 10  # "search (r…": the start of a description still says what runs
MIN_BAR = 4
BAR = 20  # before the result: a bar that shrinks whenever a result is shown would jump
MAX_BAR = 40  # rich's default bar width
MIN_INFO = 10  # a result cut shorter than this says nothing


def _cut(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[:width - 1] + "…"


def layout(description: int, numbers: int, info: int, width: int) -> tuple[int, int, int]:
    """Widths (description, bar, info) of a line of `width` columns whose numbers take
    `numbers`; 0 drops a part. Space goes first to the numbers, then to the description's
    start, a short bar, the whole description, a BAR-wide bar, the info, and last to a longer
    bar. Each part shown takes a separator too: one space, two before the info."""
    room = width - numbers
    d = min(description, MIN_DESCRIPTION)
    d = d if room >= d + 1 else 0
    room -= d + 1 if d else 0
    b = MIN_BAR if room >= MIN_BAR + 1 else 0
    room -= b + 1 if b else 0
    if d:
        grow = max(0, min(description - d, room))
        d, room = d + grow, room - grow
    if b:
        grow = max(0, min(BAR - b, room))
        b, room = b + grow, room - grow
    i = min(info, room - 2) if info and room - 2 >= min(info, MIN_INFO) else 0
    room -= i + 2 if i else 0
    if b:
        b += max(0, min(MAX_BAR - b, room))
    return d, b, i


def _bar(state: TaskState, width: int) -> Text:
    fraction = (min(1.0, state.completed / state.total) if state.total else 0.0)
    filled = int(round(fraction * width))
    style = "bar.finished" if state.finished else "bar.complete"
    return Text.assemble(("━" * filled, style), ("━" * (width - filled), "bar.back"))


def bar_line(state: TaskState, now: float, width: int) -> Text:
    """The task's line for a terminal `width` columns wide, at time `now`."""
    count = state.count_text() + state.percent_text()
    elapsed = clock(now - state.started)
    eta = state.eta_text(now, single=True)
    numbers = Text.assemble((count, "progress.download"), " elapsed ",
                            (elapsed, "progress.elapsed"), " ETA ",
                            (eta, "progress.remaining"))
    info = str(state.fields.get("info") or "")
    d, b, i = layout(len(state.description), len(numbers), len(info), width)
    line = Text(no_wrap=True, overflow="crop")
    if d:
        line.append(_cut(state.description, d) + " ")
    if b:
        line.append_text(_bar(state, b))
        line.append(" ")
    line.append_text(numbers)
    if i:
        line.append("  " + _cut(info, i))
    return line
