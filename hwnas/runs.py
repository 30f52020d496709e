"""RunDir: a search run on disk.

runs/<name>/config.json    fully resolved configuration (seed, versions)
runs/<name>/history.jsonl  one evaluated candidate per line, appended and flushed per candidate
runs/<name>/pareto.json    the front, written after the search
runs/<name>/weights/       trained weights of kept candidates (state_dict, loaded weights_only)
runs/<name>/plots/, exports/
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hwnas.errors import BadInputError
from hwnas.fileio import atomic_write_bytes, atomic_write_json


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._tail_checked = False  # append() looks for a torn tail once per RunDir

    # -- creation and loading ---------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, config: dict) -> RunDir:
        run = cls(path)
        if run.config_path.exists():
            raise BadInputError(f"run directory {run.path} already holds a run; resume it with "
                                f"`hwnas search --resume {run.path}` or choose another --run-dir")
        run.path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run.config_path, config)
        run.history_path.touch()
        return run

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
        return json.loads(self.config_path.read_text())

    # -- history ----------------------------------------------------------------------------
    def append(self, record: dict) -> None:
        """One candidate per line; flushed and synced so a crash loses at most the next one.

        The only writer of the history. Its first call on this RunDir first cuts a torn tail
        (bytes after the last newline, left by a crash mid-write), so that a resumed run's
        first record starts a line of its own instead of being glued onto the fragment.
        """
        line = (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode()
        with open(self.history_path, "a+b") as fh:
            if not self._tail_checked:
                _cut_torn_tail(fh)
                self._tail_checked = True
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def history(self) -> list[dict]:
        """Every complete record, in order. Never writes: a last line without its newline (a
        record being appended right now, or one torn by a crash) is left out, not removed;
        `append` heals a torn tail when the run is written to again."""
        if not self.history_path.exists():
            return []
        records = []
        with open(self.history_path, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # only the last line can lack its newline
                try:
                    records.append(json.loads(raw))
                except json.JSONDecodeError:
                    break
        return records

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



def _cut_torn_tail(fh, chunk: int = 1 << 16) -> None:
    """Truncate `fh` (opened a+b) just after its last newline; a file without one is empty
    of complete records and is cut to nothing. Scans backwards: a history can be large."""
    end = fh.seek(0, os.SEEK_END)
    pos = keep = end
    while pos > 0:
        start = max(0, pos - chunk)
        fh.seek(start)
        newline = fh.read(pos - start).rfind(b"\n")
        if newline >= 0:
            keep = start + newline + 1
            break
        pos = keep = start
    if keep != end:
        fh.truncate(keep)
