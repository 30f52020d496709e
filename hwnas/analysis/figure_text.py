"""Titles that fit their figure.

A title names runs, a space, a table file and an estimator: at a figure's width that is often
wider than the image, and matplotlib clips it at the edge without a word. `fit_width` rewraps
such a text at spaces, measured in the figure's own renderer (fonts differ in width), before
the layout is computed, so the layout makes room for the extra lines (tests/figure_helpers.py
checks every figure the tool draws for text outside it).
"""

from __future__ import annotations

MARGIN = 0.02  # of the figure's width, left free on each side of a wrapped line


def fit_width(fig, *texts) -> None:
    """Rewrap each Text artist in `texts` so that every line is at most the length of what it
    is centred on, less the margins: the figure for a suptitle, its axes for an axes title
    (also kept off the neighbouring panels) or axis label (the height, for a y label).
    Words are never split; a single word longer than the room stays whole."""
    renderer = fig.canvas.get_renderer()
    for text in texts:
        if text is None or not text.get_text():
            continue
        upright = text.get_rotation() % 180 == 90  # a y-axis label runs along the height
        box = text.axes.bbox if text.axes is not None else fig.bbox
        room = (box.height if upright else box.width) * (1 - 2 * MARGIN)
        prop = text.get_fontproperties()

        def width(s: str, prop=prop) -> float:
            return renderer.get_text_width_height_descent(s, prop, ismath=False)[0]

        lines = []
        for line in text.get_text().split("\n"):
            lines += _wrap(line, width, room)
        text.set_text("\n".join(lines))


def _wrap(line: str, width, room: float) -> list[str]:
    out, cur = [], ""
    for word in line.split(" "):
        candidate = f"{cur} {word}" if cur else word
        if cur and width(candidate) > room:
            out.append(cur)
            cur = word
        else:
            cur = candidate
    return [*out, cur]
