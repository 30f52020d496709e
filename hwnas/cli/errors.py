"""The one exception -> message map: every failure is one line on stderr and an exit code."""

from __future__ import annotations

import difflib
import os
import sys

import click

from hwnas.errors import HwnasError
from hwnas.quoting import printable

CWD_GONE = ("the working folder no longer exists (it was deleted while this shell was in "
            "it): `cd` to a folder that exists and run the command again")


class Interrupted(Exception):
    """Ctrl-C during a command that can say how to go on (a search: its resume command)."""

    exit_code = 130


def run_app(app, argv: list[str] | None = None) -> int:
    """Run the click app; return the exit code (2 bad input, 1 runtime failure, 130 Ctrl-C)."""
    try:  # every relative path resolves against it: without it, nothing is what it says
        os.getcwd()
    except FileNotFoundError:
        return _fail(CWD_GONE, 1)
    try:
        result = app.main(args=argv, standalone_mode=False, prog_name="hwnas")
        return result if isinstance(result, int) else 0
    except HwnasError as exc:
        return _fail(str(exc), exc.exit_code)
    except Interrupted as exc:
        return _fail(str(exc), exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        # `hwnas` or `hwnas tables` alone: the help, as asked for, not an error line
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return 0
    except click.exceptions.NoSuchOption as exc:
        return _fail(_usage_line(exc), 2)
    except click.exceptions.UsageError as exc:
        return _fail(_usage_line(exc), 2)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        return _fail("interrupted", 130)
    except OSError as exc:  # the machine's state, not a bug: a full disk, a deleted folder
        if os.environ.get("HWNAS_DEBUG") == "1":
            raise
        return _fail(os_error_line(exc), 1)
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, details on demand
        if os.environ.get("HWNAS_DEBUG") == "1":
            raise
        return _fail(f"internal error: {type(exc).__name__}: {exc} "
                     "(rerun with HWNAS_DEBUG=1 for the traceback)", 1)


def os_error_line(exc: OSError) -> str:
    """One line for an OSError that reached the top: what happened to which file, and what
    to do. Every file hwnas writes whole is replaced in one rename (hwnas.fileio), so a
    failed write leaves the previous file as it was."""
    import errno

    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"no space left on the device{where}: free some space (or write elsewhere) "
                "and run the command again; files written before are intact")
    if exc.errno == errno.EROFS:
        return f"the file system is read-only{where}: write elsewhere"
    try:
        os.getcwd()
    except FileNotFoundError:  # deleted while the command ran
        return CWD_GONE
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason}{where} (rerun with HWNAS_DEBUG=1 for the traceback)"


def _usage_line(exc: click.exceptions.UsageError) -> str:
    message = " ".join(exc.format_message().split())
    ctx = exc.ctx
    command = ctx.command_path if ctx else "hwnas"
    if isinstance(exc, click.exceptions.UsageError) and "No such command" in message and ctx:
        # list_commands, not .commands: the top-level group loads its commands lazily
        names = ctx.command.list_commands(ctx) if isinstance(ctx.command, click.Group) else []
        bad = message.split("'")[1] if "'" in message else ""
        close = difflib.get_close_matches(bad, names, n=1, cutoff=0.3)
        if close and "Did you mean" not in message:
            message += f" Did you mean {close[0]!r}?"
    return f"{message} (see `{command} --help`)"


def _fail(message: str, code: int) -> int:
    # a name in the message (a run folder's) may hold control characters: shown escaped
    one_line = printable(" ".join(str(message).split()))
    print(f"hwnas: error: {one_line}", file=sys.stderr)
    return code
