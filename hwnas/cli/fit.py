"""Text that fits the terminal: lines and tables wrapped at sensible boundaries, never mid-word.

The width is the console's: the terminal's, COLUMNS when set, 80 in a pipe (rich decides it).
A line breaks at a space; a word wider than the line breaks after `/ | , ; :` or a `-` inside
it (paths, op keys, run names), so `evolution` never becomes `evolutio n`. A table shrinks its
widest columns first, down to their longest word, then to their longest piece; a table that
still does not fit, or whose rows would wrap onto many lines, is printed one block per row
instead. A piece longer than the whole width (a long path) is printed whole, past the edge,
rather than cut: a copied path still works. Lines are printed as laid out here (rich re-wraps
nothing)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rich.text import Text

from hwnas.cli.render import console

BREAK_AFTER = "/|,;:"


def width() -> int:
    return console.width


def pieces(text: str) -> list[str]:
    """`text` cut wherever a line may break; each piece keeps the spaces that follow it."""
    out, cur = [], ""
    for i, ch in enumerate(text):
        if ch != " " and cur.endswith(" "):
            out.append(cur)
            cur = ""
        cur += ch
        after = text[i + 1:i + 2]
        if after and after != " " and (ch in BREAK_AFTER or (
                ch == "-" and i and text[i - 1].isalnum() and after.isalnum())):
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def words(text: str) -> list[str]:
    """`text` cut at spaces only; each word keeps the spaces that follow it. A lone sign
    stays with the word after it: `0.77 ± 0.02` breaks as `0.77` / `± 0.02`."""
    return [m.group() for m in re.finditer(r"\s*(?:[^\w\s] +)?\S+\s*|\s+", text)]


def longest_word(text: str) -> int:
    return max((len(w.strip()) for line in text.split("\n") for w in words(line)), default=0)


def longest_piece(text: str) -> int:
    return max((len(p.rstrip()) for line in text.split("\n") for p in pieces(line)), default=0)


def wrap(text: str, room: int, later: int | None = None) -> list[str]:
    """`text` in lines of at most `room` characters (`later`: of the lines after the first),
    broken at spaces, and inside a word only where the word is wider than the line."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in words(paragraph):
            # a word breaks inside (after a '/', '|', ...) only where it cannot fit whole
            whole = len(word.rstrip()) <= min(room, later or room)
            for piece in [word] if whole else pieces(word):
                limit = room if not lines else later or room
                if line and len(line + piece.rstrip()) > limit:
                    lines.append(line.rstrip())
                    line = ""
                line += piece
        lines.append(line.rstrip())
    return lines


def hanging(text: str, indent: int = 0, hang: int | None = None, room: int | None = None
            ) -> list[str]:
    """`text` wrapped to the width, the first line indented by `indent` and the others by
    `hang` (default: `indent`), so a continuation reads as part of its entry."""
    hang = indent if hang is None else hang
    room = width() if room is None else room
    first, *rest = wrap(text, max(room - indent, 1), max(room - hang, 1))
    return [" " * indent + first, *(" " * hang + line for line in rest)]


def echo(text: str, indent: int = 0, hang: int | None = None, style: str | None = None) -> None:
    """Print `text` wrapped to the width (see `hanging`), verbatim: no markup is read."""
    for line in hanging(text, indent, hang):
        console.print(Text(line, style=style or ""), soft_wrap=True)


def column_widths(headers: Sequence[str], rows: Sequence[Sequence[str]], room: int,
                  fixed: Iterable[int] = (), sep: int = 2) -> list[int]:
    """Each column's width: its natural one, the widest shrunk first until the table fits
    `room`; first never below its longest word, then, if it still does not fit, never below
    its longest piece (a word broken after a '/' or '|'). The cells of `fixed` columns
    (numbers) are never wrapped, only their header."""
    cells = [list(headers), *(list(r) for r in rows)]
    n = len(headers)
    natural = [max(len(line) for row in cells for line in row[i].split("\n")) for i in range(n)]
    cell_widths = [max([0, *(len(line) for row in rows for line in row[i].split("\n"))])
                   for i in range(n)]
    fixed = set(fixed)

    def least(longest) -> list[int]:
        floor = [max(longest(row[i]) for row in cells) for i in range(n)]
        return [max(floor[i], cell_widths[i]) if i in fixed else floor[i] for i in range(n)]

    widths = list(natural)
    over = sum(widths) + sep * (n - 1) - room
    for floor in (least(longest_word), least(longest_piece)):
        while over > 0:
            shrinkable = [i for i in range(n) if widths[i] > floor[i]]
            if not shrinkable:
                break  # the next floor, or past the edge rather than cut words
            widest = max(shrinkable, key=lambda i: widths[i])
            widths[widest] -= 1
            over -= 1
    return widths


# A row wrapped onto more lines than this reads worse than one line per field (`records`).
CROWDED_ROW = 3


def table_lines(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                right: Iterable[int] = (), fixed: Iterable[int] = (), indent: int = 0,
                room: int | None = None, rule: bool = True, heading: int = 1
                ) -> list[tuple[str, str]]:
    """A table as (line, style) pairs fitting `room` (default: the width): a header (bold),
    a rule under each column, the rows with cells wrapped in their column. `right`: columns
    aligned right; `fixed`: columns whose cells never wrap (see `column_widths`). Headers of
    "" (all of them) print no header.

    Too many columns for the room (wider than it, or a row wrapped onto more than
    CROWDED_ROW lines): one block per row instead, its first `heading` cells on a line, then
    one line per field."""
    room = width() if room is None else room
    right = set(right)
    widths = column_widths(headers, rows, room - indent, fixed)
    wrapped_rows = [[wrap(c, w) for c, w in zip(row, widths, strict=True)] for row in rows]
    too_wide = sum(widths) + 2 * (len(widths) - 1) > room - indent
    if any(headers) and (too_wide or any(max(len(w) for w in r) > CROWDED_ROW
                                         for r in wrapped_rows)):
        return records(headers, rows, heading, indent, room)
    out: list[tuple[str, str]] = []

    def emit(wrapped: Sequence[list[str]], style: str) -> None:
        for k in range(max(len(w) for w in wrapped)):
            parts = [(w[k] if k < len(w) else "") for w in wrapped]
            line = "  ".join(p.rjust(widths[i]) if i in right else p.ljust(widths[i])
                             for i, p in enumerate(parts))
            out.append((" " * indent + line.rstrip(), style))

    if any(headers):
        emit([wrap(h, w) for h, w in zip(headers, widths, strict=True)], "bold")
        if rule:
            bar = "─" if console.encoding.lower().startswith("utf") else "-"
            out.append((" " * indent + "  ".join(bar * w for w in widths), "dim"))
    for wrapped in wrapped_rows:
        emit(wrapped, "")
    return out


def records(headers: Sequence[str], rows: Sequence[Sequence[str]], heading: int = 1,
            indent: int = 0, room: int | None = None) -> list[tuple[str, str]]:
    """Each row as a block: its first `heading` cells (bold), then `header  value` per other
    field, values aligned and wrapped under themselves."""
    room = width() if room is None else room
    label = min(max(len(h) for h in headers[heading:]), room // 3)
    out: list[tuple[str, str]] = []
    for row in rows:
        out.append((" " * indent + "  ".join(c for c in row[:heading] if c), "bold"))
        for head, cell in zip(headers[heading:], row[heading:], strict=True):
            pad = indent + 2 + label + 2
            lines = hanging(f"{head:<{label}}  {cell}", indent + 2, pad, room)
            out += [(line, "") for line in lines]
    return out


def print_table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]],
                **how) -> None:
    """Print a title (wrapped) and then `table_lines(headers, rows, **how)`."""
    if title:
        echo(title, style="bold")
    for line, style in table_lines(headers, rows, **how):
        console.print(Text(line, style=style), soft_wrap=True)
