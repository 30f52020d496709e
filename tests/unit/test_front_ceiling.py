"""benchmarks/front_ceiling.py's class-mean reference: a cell's accuracy is predicted from the
other cells computing the same network, never from its own result (its training noise)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("front_ceiling",
                                                  ROOT / "benchmarks" / "front_ceiling.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_class_mean_leaves_the_cell_itself_out():
    script = _script()
    keys = ["A", "A", "A", "B", "C", "C"]
    members = {"A": [0, 1, 2], "B": [3], "C": [4, 5]}
    acc = np.array([0.90, 0.80, 0.70, 0.50, 0.60, np.nan])
    fallback = np.full(6, -1.0)
    pred = script.class_mean(keys, members, acc, fallback)
    assert np.allclose(pred[:3], [0.75, 0.80, 0.85])  # the other two of A, never itself
    assert pred[3] == -1.0  # alone in its class: the model's prediction
    assert pred[4] == -1.0  # its only class-mate has no result: nothing to average
    assert pred[5] == 0.60  # a cell without a result is predicted from its class-mates


def test_the_reference_proposes_only_allowed_rows():
    script = _script()
    rng = np.random.default_rng(0)
    F = rng.random((200, 2))
    allowed = np.zeros(200, dtype=bool)
    allowed[::3] = True
    rows = script.adaptive_run(F, F, seed=1, budget=40, n_initial=10, batch=5,
                               allowed=allowed)
    assert len(rows) == 40 == len(set(rows)) and allowed[rows].all()
