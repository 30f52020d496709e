"""RunDir: a search run on disk.

runs/<name>/config.json    fully resolved configuration (seed, versions)
runs/<name>/history.jsonl  one evaluated candidate per line, appended and flushed per candidate
                           (after a warm start's records, marked "warm": true, if any)
runs/<name>/pareto.json    the front, written after the search
runs/<name>/weights/       trained weights of kept candidates (state_dict, loaded weights_only)
runs/<name>/plots/, exports/
runs/<name>/lock           held (flock) by the one process writing the run; names its pid

The history is append-only and only the writer, holding the lock, touches it. Readers never
write: a line they cannot read (a crash's torn tail, a corrupted byte) is reported with its
number and left in place; the writer starts its next record on a line of its own, and a resume
evaluates again only the candidates whose records cannot be read.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hwnas.errors import BadInputError, RunLockedError
from hwnas.fileio import (
    atomic_write_bytes,
    atomic_write_json,
    exclusive_lock,
    read_regular,
    why,
)
from hwnas.quoting import shell_word


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._tail_checked = False  # append() looks for a torn tail once per RunDir

    # -- creation and loading ---------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, config: dict) -> RunDir:
        run = cls(path)
        run.create_files(config)
        return run

    def create_files(self, config: dict, history: list[dict] | None = None) -> None:
        """A new run's config and history (under `writing()` when a search runs): empty, or
        `history`'s records (a warm start's, hwnas.api.warm_start), written whole before the
        config, so a run never exists with only some of them."""
        if self.config_path.exists():
            raise BadInputError(f"run directory {self.path} already holds a run; resume it "
                                f"with `hwnas search --resume {shell_word(self.path)}` or choose "
                                "another --run-dir")
        self.path.mkdir(parents=True, exist_ok=True)
        if history:
            atomic_write_bytes(self.history_path, b"".join(_line(r) for r in history))
        atomic_write_json(self.config_path, config)
        self.history_path.touch()

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        run = cls(path)
        if not run.config_path.is_file():
            raise BadInputError(f"{run.path} is not a run directory (no config.json); "
                                "runs are made by `hwnas search` (see `ls runs/`)")
        return run

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def history_path(self) -> Path:
        return self.path / "history.jsonl"

    @property
    def name(self) -> str:
        return self.path.name

    def config(self) -> dict:
        """The run's config.json, checked (a damaged file is one line, not a crash)."""
        from hwnas.searching.config import read_run_config

        return read_run_config(self.path)

    def set_budget(self, budget: int) -> None:
        """Store a resume's larger --budget as the run's own (the writer, under the lock);
        the rest of config.json is written back as read."""
        config = self.config()
        config["search"]["budget"] = int(budget)
        atomic_write_json(self.config_path, config)

    # -- the writer's lock ------------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.path / "lock"

    @contextlib.contextmanager
    def writing(self) -> Iterator[RunDir]:
        """Hold the run's lock while writing it; a second writer is refused in one line.

        An flock, not a lock file's existence: the kernel drops it when its process dies, so
        the lock of a killed run is stale by construction and the next `--resume` just takes
        it. The file keeps the holder's pid and host for the refusal message.
        """
        with exclusive_lock(self.lock_path, self._locked_error) as fd:
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                         f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
            self._end_whole_last_record()
            front = self.path / "pareto.json"
            if front.is_dir() and not front.is_symlink():  # the rename at the end would fail
                raise BadInputError(f"{front} is a folder where the run's front is written; "
                                    "move it away and run the command again")
            yield self

    def _end_whole_last_record(self) -> None:
        """A whole record whose newline is missing (a crash between the two, an editor that
        dropped the file's last newline) is ended by the writer as it takes the lock: the
        history it then reads under the lock, as every reader's, holds that record. Unended,
        a resume skipped it as a record being written, evaluated that candidate again and
        appended a second record of its index. A torn fragment is left as it is (reported;
        `append` starts its next record after it); nothing on disk is removed."""
        self.history_bytes()  # a FIFO or folder in its place is refused, not opened below
        try:
            fh = open(self.history_path, "r+b")
        except FileNotFoundError:  # a new run: its files are created under the lock
            return
        with fh:
            data = fh.read()
            if not data or data.endswith(b"\n"):
                return
            whole = HistoryRead()
            _parse_line(data.rpartition(b"\n")[2], 0, whole)
            if whole.records:
                fh.write(b"\n")
                fh.flush()
                os.fsync(fh.fileno())

    def check_not_written(self) -> None:
        """Refuse early (before minutes of setup) when a live writer holds the run."""
        if self.being_written():
            raise self._locked_error()

    def _locked_error(self) -> RunLockedError:
        try:
            holder = read_regular(self.lock_path).decode(errors="replace")[:200].strip()
        except OSError:
            holder = ""
        return RunLockedError(f"run {self.path} is being written by "
                              f"{holder or 'another process'}; wait for it to finish "
                              f"(`hwnas pareto {shell_word(self.path)}` reads it meanwhile) or "
                              "stop it, "
                              f"then `hwnas search --resume {shell_word(self.path)}`")

    def being_written(self) -> bool:
        """Whether a live process holds the writer's lock (a reader's question; never writes,
        and a run without a lock file is not being written)."""
        import fcntl

        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO: not blocked
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False

    # -- history ----------------------------------------------------------------------------
    def append(self, record: dict) -> None:
        """One candidate per line, written with one call, flushed and synced, so a crash
        loses at most the record being written.

        Only the writer (holding `writing()`) appends. If the file does not end with a newline
        (a crash tore the last record), the fragment is left in place and this record starts
        a line of its own: nothing already on disk is ever removed.
        """
        line = _line(record)
        with open(self.history_path, "a+b") as fh:
            if not self._tail_checked:
                if _last_byte(fh) not in (b"", b"\n"):
                    line = b"\n" + line
                self._tail_checked = True
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def history(self) -> list[dict]:
        """Every readable record, in file order. Never writes (see `read_history`)."""
        return self.read_history().records

    def read_history(self) -> HistoryRead:
        """The records, and a line for each line that is not one, left where it is.

        A last line without its newline is a record still being written while a writer holds
        the lock (skipped silently), else the tail of a crash: a complete JSON record there
        counts (only its newline is missing), a fragment is reported.
        """
        read = HistoryRead()
        data = self.history_bytes()
        if data is None:
            return read
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        for number, raw in enumerate(lines, start=1):
            _parse_line(raw, number, read)
        if tail and not self.being_written():
            _parse_line(tail, len(lines) + 1, read, torn=True)
        return read

    def history_bytes(self) -> bytes | None:
        """The history file's bytes; None when the run has none yet. One that cannot be read
        is one line naming it, before anything is opened that would block: a FIFO in its place
        would hang every reader for ever, /dev/zero fill the memory, a folder or a symlink
        loop cannot be read."""
        try:
            return read_regular(self.history_path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BadInputError(f"the history of run {self.path}, {self.history_path}, cannot "
                                f"be read ({why(exc)}); it holds the run's candidates: put the "
                                "run's own history.jsonl back, or start a new run with "
                                "another --run-dir") from None

    # -- artefacts --------------------------------------------------------------------------
    def weights_path(self, arch_key: str) -> Path:
        return self.path / "weights" / f"{arch_key}.pt"

    def save_weights(self, arch_key: str, state_dict: dict) -> Path:
        import io

        import torch

        buf = io.BytesIO()
        torch.save(state_dict, buf)
        return atomic_write_bytes(self.weights_path(arch_key), buf.getvalue())

    def load_weights(self, arch_key: str) -> dict | None:
        from hwnas.fileio import may_exist
        from hwnas.weights_file import load_state_dict

        path = self.weights_path(arch_key)
        if not may_exist(path):
            return None
        return load_state_dict(path, f"the search's weights of candidate {arch_key}",
                               f"delete it and train the candidate with `hwnas train "
                               f"{shell_word(self.path)} --arch {shell_word(arch_key)}`")

    def prune_weights(self, keep_keys: set[str]) -> int:
        removed = 0
        for path in (self.path / "weights").glob("*.pt"):
            if path.stem not in keep_keys:
                path.unlink()
                removed += 1
        return removed

    def write_pareto(self, payload: dict) -> Path:
        return atomic_write_json(self.path / "pareto.json", payload)



# A history record an earlier run evaluated, told to this one before its first proposal
# (`--warm-start`, hwnas.api.warm_start): no candidate index, not an evaluation of the budget.
WARM = "warm"
WARM_FROM = "warm_from"  # the run it came from


def is_warm(record: dict) -> bool:
    return record.get(WARM) is True


def unique_records(history: list[dict]) -> list[dict]:
    """The first record of each architecture, in history order (repeats are lookups)."""
    seen, out = set(), []
    for record in history:
        if record["arch_key"] not in seen:
            seen.add(record["arch_key"])
            out.append(record)
    return out


@dataclass
class HistoryRead:
    records: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "history.jsonl line 81: ..."


def _parse_line(raw: bytes, number: int, read: HistoryRead, torn: bool = False) -> None:
    if not raw.strip():
        return
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        record = None
    damage = record_damage(record) if isinstance(record, dict) else None
    if isinstance(record, dict) and not damage:
        read.records.append(record)
        return
    what = "incomplete (torn by a crash)" if torn and not damage else \
        f"not a candidate record{f' ({damage})' if damage else ''}"
    read.problems.append(f"history.jsonl line {number} is {what}; left in place")


_ARCH_KEY = re.compile(r"[0-9A-Za-z_-]{1,64}")  # hwnas.arch.Arch.key: hex digits


def record_damage(record: dict) -> str | None:
    """What makes a parsed history line unusable as a candidate record, or None.

    The fields every reader uses are checked here, once, so that a record edited by hand or
    damaged on disk (a string where an objective's number belongs) is reported as its line
    and left out, instead of failing pareto, report, export or resume far from the file: a
    result is either a failure's reason or numbers, all finite (a failed candidate's is
    `{"failed": reason}`, hwnas.core.failure), an infeasible one's with the text of the limit
    it breaks beside them (hwnas.core.feasibility)."""
    key = record.get("arch_key")
    if not isinstance(key, str) or not _ARCH_KEY.fullmatch(key):
        # it names files (weights/<key>.pt, trained/<key>/): "../x" would name one elsewhere
        return f"its arch_key {key!r:.40} is not an architecture key"
    result = record.get("result")
    if not isinstance(result, dict):
        return "no result object"
    if "failed" in result:
        if not isinstance(result["failed"], str):
            return f"its failure reason is {result['failed']!r:.40}, not a text"
    else:
        for name, value in result.items():
            if isinstance(value, bool):  # an estimator's flag beside the numbers (stopped_early)
                continue
            if name == "infeasible":  # the limit it breaks (hwnas.core.feasibility)
                if not isinstance(value, str):
                    return f"its infeasible reason is {value!r:.40}, not a text"
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"its {name!r:.40} is {value!r:.40}, not a finite number"
    arch = record.get("arch")
    if arch is not None and not (isinstance(arch, dict) and isinstance(arch.get("space"), str)
                                 and isinstance(arch.get("values"), dict)):
        return "its arch is not an architecture"
    for name, kind, text in (("arch_short", str, "a text"), ("arch_str", str, "a text"),
                             ("time", str, "a text"), ("estimate", dict, "an object")):
        if record.get(name) is not None and not isinstance(record[name], kind):
            return f"its {name} is {record[name]!r:.40}, not {text}"
    return None


def _line(record: dict) -> bytes:
    """One history line: the record's JSON, keys sorted, on a line of its own."""
    return (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode()


def _last_byte(fh) -> bytes:
    end = fh.seek(0, os.SEEK_END)
    if end == 0:
        return b""
    fh.seek(end - 1)
    return fh.read(1)
