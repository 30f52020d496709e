"""A small run directory to train and export from, written directly (no search needed): the
proxyless space at 16x16 and width 0.25 on digits, a few candidates with proxy results, and
optionally the search's kept weights at a chosen resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwnas.latency.table import LatencyTable
from hwnas.runs import RunDir
from hwnas.spaces.proxyless import ProxylessSpace

SPACE = {"resolution": 16, "width_mult": 0.25, "num_classes": 10}


def write_table(path, space) -> LatencyTable:
    """An ort-cpu table of every op of `space` (made-up times, 0.01 ms an op), saved."""
    entries = {sig.key: {"p50": 0.01, "p90": 0.011, "mean": 0.01, "std": 0.0, "n": 5}
               for sig in space.all_ops()}
    table = LatencyTable(backend="ort-cpu", device={"name": "test"}, threads=1,
                         space={"name": "proxyless", "config": space.config()}, entries=entries)
    table.save(path)
    return table


def write_run(path, *, n: int = 3, proxy_resolution: int | None = 8, seed: int = 0,
              keep_weights: bool = True, table: bool = False,
              resolution: int = SPACE["resolution"]) -> tuple[RunDir, list[str]]:
    """A finished run of `n` candidates (accuracy rising with latency, so each is on the
    front); with `keep_weights`, each candidate's weights as the search would have kept them,
    trained (here: initialised) at `proxy_resolution`; with `table`, a latency table beside
    the run whose hash the run stored; `resolution`: the space's (the deploy resolution).
    Returns the run and the keys."""
    import torch

    space = ProxylessSpace(**{**SPACE, "resolution": resolution})
    made = write_table(Path(str(path) + "-table.json"), space) if table else None
    rng = np.random.default_rng(seed)
    estimator = {"estimator": "scratch", "dataset": "digits", "seed": seed, "epochs": 2,
                 "resolution": proxy_resolution, "train_subset": 768}
    config = {"search": {"table": str(made.path) if made else "", "space": "proxyless",
                         "space_config": {**SPACE, "resolution": resolution},
                         "strategy": "random", "estimator": "scratch",
                         "estimator_options": {"epochs": 2, "resolution": proxy_resolution},
                         "dataset": "digits", "objectives": ["accuracy", "latency_ms"],
                         "budget": n, "seed": seed, "run_dir": str(path)},
              "space_resolved": space.config(), "estimator_resolved": estimator,
              "table": made and {"path": str(made.path), "backend": made.backend, "batch": 1,
                                 "dtype": "fp32", "device": made.device,
                                 "hash": made.content_hash()}}
    run = RunDir.create(path, config)
    keys = []
    for i in range(n):
        arch = space.sample(rng)
        res = proxy_resolution or resolution
        run.append({"index": i, "arch_key": arch.key, "arch": arch.to_dict(),
                    "arch_str": str(arch), "arch_short": space.compact(arch),
                    "result": {"accuracy": 0.5 + 0.1 * i, "latency_ms": 1.0 + i},
                    "estimate": {"resolution": res, "train_size": 768, "val_size": 288}})
        if keep_weights:
            torch.manual_seed(i)
            run.save_weights(arch.key, space.build(arch).state_dict())
        keys.append(arch.key)
    return run, keys
