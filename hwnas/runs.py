"""RunDir: a search run on disk.

runs/<name>/config.json    fully resolved configuration (seed, versions)
runs/<name>/history.jsonl  one evaluated candidate per line, appended and flushed per candidate
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
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hwnas.errors import BadInputError, RunLockedError
from hwnas.fileio import atomic_write_bytes, atomic_write_json, exclusive_lock


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

    def create_files(self, config: dict) -> None:
        """A new run's config and empty history (under `writing()` when a search runs)."""
        if self.config_path.exists():
            raise BadInputError(f"run directory {self.path} already holds a run; resume it "
                                f"with `hwnas search --resume {self.path}` or choose another "
                                "--run-dir")
        self.path.mkdir(parents=True, exist_ok=True)
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
        from hwnas.search.config import read_run_config

        return read_run_config(self.path)

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
            yield self

    def check_not_written(self) -> None:
        """Refuse early (before minutes of setup) when a live writer holds the run."""
        if self.being_written():
            raise self._locked_error()

    def _locked_error(self) -> RunLockedError:
        try:
            holder = self.lock_path.read_text(errors="replace")[:200].strip()
        except OSError:
            holder = ""
        return RunLockedError(f"run {self.path} is being written by "
                              f"{holder or 'another process'}; wait for it to finish "
                              f"(`hwnas pareto {self.path}` reads it meanwhile) or stop it, "
                              f"then `hwnas search --resume {self.path}`")

    def being_written(self) -> bool:
        """Whether a live process holds the writer's lock (a reader's question; never writes,
        and a run without a lock file is not being written)."""
        import fcntl

        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
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
        line = (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode()
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
        if not self.history_path.exists():
            return read
        with open(self.history_path, "rb") as fh:
            lines = fh.read().split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        for number, raw in enumerate(lines, start=1):
            _parse_line(raw, number, read)
        if tail and not self.being_written():
            _parse_line(tail, len(lines) + 1, read, torn=True)
        return read

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
        path = self.weights_path(arch_key)
        if not path.exists():
            return None
        import torch

        return torch.load(path, map_location="cpu", weights_only=True)

    def prune_weights(self, keep_keys: set[str]) -> int:
        removed = 0
        for path in (self.path / "weights").glob("*.pt"):
            if path.stem not in keep_keys:
                path.unlink()
                removed += 1
        return removed

    def write_pareto(self, payload: dict) -> Path:
        return atomic_write_json(self.path / "pareto.json", payload)



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
    if isinstance(record, dict) and isinstance(record.get("arch_key"), str) \
            and isinstance(record.get("result"), dict):
        read.records.append(record)
        return
    what = "incomplete (torn by a crash)" if torn else "not a candidate record"
    read.problems.append(f"history.jsonl line {number} is {what}; left in place")


def _last_byte(fh) -> bytes:
    end = fh.seek(0, os.SEEK_END)
    if end == 0:
        return b""
    fh.seek(end - 1)
    return fh.read(1)
