"""The one exception -> message map: every failure is one line on stderr and an exit code."""

from __future__ import annotations

import difflib
import os
import sys

import click

from hwnas.errors import HwnasError


class Interrupted(Exception):
    """Ctrl-C during a command that can say how to go on (a search: its resume command)."""

    exit_code = 130


def run_app(app, argv: list[str] | None = None) -> int:
    """Run the click app; return the exit code (2 bad input, 1 runtime failure, 130 Ctrl-C)."""
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
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, details on demand
        if os.environ.get("HWNAS_DEBUG") == "1":
            raise
        return _fail(f"internal error: {type(exc).__name__}: {exc} "
                     "(rerun with HWNAS_DEBUG=1 for the traceback)", 1)


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
    one_line = " ".join(str(message).split())
    print(f"hwnas: error: {one_line}", file=sys.stderr)
    return code
