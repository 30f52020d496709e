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
        """One candidate per line; flushed and synced so a crash loses at most the next one."""
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        with open(self.history_path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def history(self) -> list[dict]:
        """Every complete record; a torn last line (a crash mid-write) is dropped and healed."""
        if not self.history_path.exists():
            return []
        records, good_bytes = [], 0
        with open(self.history_path, "rb") as fh:
            for raw in fh:
                try:
                    records.append(json.loads(raw))
                except json.JSONDecodeError:
                    break
                good_bytes += len(raw)
        if good_bytes != self.history_path.stat().st_size:
            with open(self.history_path, "r+b") as fh:
                fh.truncate(good_bytes)
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

