"""The few exceptions hwnas raises on purpose.

`BadInputError` means the user asked for something that cannot be (exit 2); `HwnasRuntimeError`
means a valid request failed while running (exit 1). The CLI maps each to one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike


class HwnasError(Exception):
    """Base of every error hwnas raises deliberately."""

    exit_code = 1


class BadInputError(HwnasError, ValueError):
    """The input is invalid: say what, what is allowed, the closest match and what to run next."""

    exit_code = 2


class MissingLatencyError(BadInputError, KeyError):
    """A latency table lacks entries that an architecture needs."""

    def __init__(self, missing_keys: Iterable[str], table_path: str | PathLike[str] | None = None,
                 fill_command: str | None = None) -> None:
        self.missing_keys = sorted(set(missing_keys))
        shown = ", ".join(self.missing_keys[:3])
        more = f" (+{len(self.missing_keys) - 3} more)" if len(self.missing_keys) > 3 else ""
        where = f" in {table_path}" if table_path else ""
        nxt = f"; run `{fill_command}`" if fill_command else ""
        super().__init__(
            f"latency table{where} has no entry for {len(self.missing_keys)} op(s): "
            f"{shown}{more}{nxt}"
        )

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class BackendUnavailableError(BadInputError):
    """A profiling backend cannot run on this machine (missing runtime or device)."""


class HwnasRuntimeError(HwnasError, RuntimeError):
    """A valid request that failed while running (a measurement, an export, a training)."""

    exit_code = 1


class RunLockedError(BadInputError):
    """A run directory is being written by another live process."""


class CandidateFailed(HwnasRuntimeError):
    """One candidate cannot be scored (its training diverged, its weights are not finite):
    the evaluator records it as failed, with this message as the reason, and the search goes
    on. The message is the whole reason, e.g. "diverged: loss became nan at epoch 1 step 3"."""
