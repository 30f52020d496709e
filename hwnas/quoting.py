"""Text from outside (a run folder's name, a path, a file's content) as hwnas shows it.

In a terminal, a control character acts: ESC starts a sequence that clears the screen, moves
the cursor or retitles the window; `printable` writes each as an escape (`\\x1b`) instead, as
do the CLI's console and its error line. In a command a user is told to run, `$(...)`, `;`,
a space or a quote act when the command is pasted into a shell; `shell_word` quotes a word
so that the shell reads it back as it is, and `command` joins words so quoted.
"""

from __future__ import annotations

import os
import re
import shlex

# C0 and C1 controls but newline and tab; the bidirectional overrides and isolates, which
# reorder what is shown ("Trojan Source"); lone surrogates, which are how Python decodes the
# bytes of a file name that is not UTF-8 (printing one raises UnicodeEncodeError).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
                      "\ud800-\udfff]")
_SHELL_CONTROL = re.compile("[\n\t]|" + _CONTROL.pattern)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a file name's byte that is not UTF-8: the byte itself
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _bytes_escaped(ch: str) -> str:
    """`ch` as the bytes a file name holds (UTF-8, or the raw byte Python decoded to a
    surrogate), each as \\xNN: what bash reads back in any locale."""
    return "".join(f"\\x{byte:02x}" for byte in os.fsencode(ch))


def printable(text) -> str:
    """`text` with every control character but newline and tab written as an escape, e.g.
    "runs/\\x1b[2J"; text without one is returned as it is."""
    text = str(text)
    return _CONTROL.sub(lambda m: _escaped(m.group()), text) if _CONTROL.search(text) \
        else text


def shell_word(word) -> str:
    """`word` (a str or a path) as one word of a POSIX shell command: unchanged when it is
    safe as it is (`runs/r1`), else single-quoted (`'runs/$(x);y'`). A word holding a control
    character (or a newline) is ANSI-C quoted (`$'runs/\\x1b[2J'`, read back as the same
    bytes by bash, zsh and ksh): single quotes would put the raw character on the screen."""
    word = os.fspath(word) if isinstance(word, os.PathLike) else str(word)
    if not _SHELL_CONTROL.search(word):
        return shlex.quote(word)
    body = "".join(
        "\\\\" if ch == "\\" else "\\'" if ch == "'" else
        _bytes_escaped(ch) if _SHELL_CONTROL.match(ch) else ch for ch in word)
    return f"$'{body}'"


def command(*words) -> str:
    """A command line of `words`, each quoted as `shell_word` quotes it: `command("hwnas",
    "pareto", path)` is `hwnas pareto runs/r1`, or `hwnas pareto 'runs/a b'`."""
    return " ".join(shell_word(w) for w in words)
