"""TrainedDir: one architecture's final training on disk, inside its run.

runs/<run>/trained/<key>/training.json  what is trained: architecture, space, dataset,
                                         resolution, recipe (a resume must match it)
runs/<run>/trained/<key>/checkpoint.pt   the last finished epoch (weights, optimizer,
                                         generators, curve), rewritten after every epoch
runs/<run>/trained/<key>/curve.json      per epoch: training loss, validation accuracy, time
runs/<run>/trained/<key>/weights.pt      the final weights (state_dict), at `resolution`
runs/<run>/trained/<key>/metrics.json    final metrics, on the held-out test split; written
                                         last, so its presence means the training finished
runs/<run>/trained/<key>/lock            held (flock) by the one process training it
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from hwnas.errors import RunLockedError

# What must agree for a checkpoint to be resumed: everything that changes the weights.
IDENTITY = ("arch_key", "space", "space_config", "dataset", "resolution", "recipe")


class TrainedDir:
    def __init__(self, run_path: str | os.PathLike, arch_key: str):
        self.path = Path(run_path) / "trained" / arch_key
        self.arch_key = arch_key

    training_path = property(lambda self: self.path / "training.json")
    checkpoint_path = property(lambda self: self.path / "checkpoint.pt")
    curve_path = property(lambda self: self.path / "curve.json")
    weights_path = property(lambda self: self.path / "weights.pt")
    metrics_path = property(lambda self: self.path / "metrics.json")
    lock_path = property(lambda self: self.path / "lock")

    def finished(self) -> bool:
        """Final weights and readable final metrics: a damaged metrics.json makes the
        training unfinished, so that `hwnas train` finishes it again rather than trusting it."""
        return self.weights_path.is_file() and self.metrics() is not None

    def training(self) -> dict | None:
        return _read(self.training_path)

    def metrics(self) -> dict | None:
        """The final metrics, or None before the training finished (or when metrics.json is
        damaged: its test accuracy is not a number in [0, 1])."""
        metrics = _read(self.metrics_path)
        return metrics if metrics is not None and _fraction(metrics.get("test_accuracy")) \
            is not None and self.weights_path.is_file() else None

    def load_weights(self) -> dict | None:
        if not self.finished():
            return None
        from hwnas.quoting import shell_word
        from hwnas.weights_file import load_state_dict

        run = shell_word(self.path.parent.parent)
        return load_state_dict(self.weights_path, f"the trained weights of {self.arch_key}",
                               f"train it again with `hwnas train {run} --arch "
                               f"{shell_word(self.arch_key)} --force`")

    def save_weights(self, state_dict: dict) -> Path:
        import io

        import torch

        from hwnas.fileio import atomic_write_bytes

        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, buf)
        return atomic_write_bytes(self.weights_path, buf.getvalue())

    def differences(self, wanted: dict) -> list[str]:
        """How the training stored here differs from `wanted` (IDENTITY's fields), e.g.
        ["recipe.epochs 30, not 10"]; [] when it is the same training (or there is none)."""
        have = self.training()
        if have is None:
            return []
        out = []
        for name in IDENTITY:
            a, b = have.get(name), wanted.get(name)
            if isinstance(a, dict) and isinstance(b, dict):
                out += [f"{name}.{k} {a.get(k)!r}, not {b.get(k)!r}"
                        for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            elif a != b:
                out.append(f"{name} {a!r}, not {b!r}")
        return out

    def clear(self) -> None:
        """Remove what a previous training left (not the lock, which the caller holds)."""
        for path in (self.training_path, self.checkpoint_path, self.curve_path,
                     self.weights_path, self.metrics_path):
            path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def writing(self) -> Iterator[TrainedDir]:
        """One process trains an architecture at a time (hwnas.fileio.exclusive_lock: a killed
        training never blocks its resume)."""
        from hwnas.fileio import exclusive_lock

        def refusal() -> RunLockedError:
            return RunLockedError(f"{self.path} is being trained by another process; wait for "
                                  "it to finish (its curve.json shows the epochs done)")

        with exclusive_lock(self.lock_path, refusal):
            yield self


def summaries(run_path: str | os.PathLike) -> list[dict]:
    """Every final training of a run, finished or not, for `hwnas runs show`: key, resolution,
    epochs done of the recipe's, and the test accuracy once finished. Reads only."""
    out = []
    root = Path(run_path) / "trained"
    for folder in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        trained = TrainedDir(run_path, folder.name)
        training = trained.training() or {}
        metrics = trained.metrics()
        curve = (_read(trained.curve_path) or {}).get("epochs")
        recipe = training.get("recipe")
        out.append({"arch_key": folder.name, "resolution": _count(training.get("resolution")),
                    "epochs": _count(recipe.get("epochs")) if isinstance(recipe, dict) else None,
                    "epochs_done": len(curve) if isinstance(curve, list) else 0,
                    "finished": metrics is not None,
                    "test_accuracy": (metrics or {}).get("test_accuracy")})
    return out


# A damaged or hand-edited file's fields are shown as unknown, never trusted as numbers.
def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _fraction(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
    return value if ok else None


def _read(path: Path) -> dict | None:
    """The JSON object in `path`; None when it is absent or cannot be read (read only when
    it is a regular file: a FIFO in its place would block)."""
    from hwnas.fileio import read_regular

    try:
        value = json.loads(read_regular(path))
    except (OSError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
