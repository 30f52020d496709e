"""What a terminal shows after some output: the rows left on screen once carriage returns,
line erases and cursor moves are applied. A bar redrawn in place leaves one row; a copy left
behind (a note written over it without clearing it) stays on screen and is seen here."""

from __future__ import annotations

import re

TOKEN = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]")


def screen(raw: str) -> list[str]:
    rows, r, c = [""], 0, 0
    for token in TOKEN.findall(raw):
        if token == "\r":
            c = 0
        elif token == "\n":
            r, c = r + 1, 0
            if r == len(rows):
                rows.append("")
        elif token.startswith("\x1b["):
            arg, code = token[2:-1], token[-1]
            if code == "K":  # erase in line: 2 the whole row, else from the cursor on
                rows[r] = "" if arg == "2" else rows[r][:c]
            elif code == "A":
                r = max(0, r - int(arg or 1))
            # colours (m) and showing/hiding the cursor (h, l) change no text
        else:
            row = rows[r].ljust(c)
            rows[r] = row[:c] + token + row[c + 1:]
            c += 1
    return [row.rstrip() for row in rows]
