"""The options of a policy-gradient controller update, and its moving-average baseline: what a
strategy declares and computes without torch (hwnas.controllers.ppo holds the update itself),
so that listing strategies imports no runtime."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.limits import MAX_BATCH, MAX_EPOCHS
from hwnas.options import Option

UPDATES = ("reinforce", "ppo")

# Declared once, shared by every strategy that trains a controller by policy gradient.
UPDATE_OPTIONS = {
    "update": Option("reinforce", str, choices=UPDATES,
                     help="controller update: reinforce (one step per told batch) or ppo "
                          "(clipped surrogate, ppo_epochs epochs of minibatches)"),
    "ppo_epochs": Option(4, int, low=1, high=MAX_EPOCHS,
                         help="ppo: epochs over each told batch (K; PPO paper: 3-10)"),
    "ppo_clip": Option(0.2, float, low=0, low_open=True, high=1, high_open=True,
                       help="ppo: eps in clip(r, 1-eps, 1+eps) (PPO paper: 0.2)"),
    "ppo_minibatch": Option(None, int, low=1, high=MAX_BATCH, none_ok=True,
                            help="ppo: samples per minibatch (None: the whole told batch)"),
}


def baseline_advantages(baseline: float | None, rewards: Sequence[float],
                        decay: float) -> tuple[np.ndarray, list[float]]:
    """(R - b for each reward, b after each): b <- b - (1-decay)(b - R) in order, started at
    the first reward ever (`baseline` None), each advantage taken after its own update."""
    out, after = [], []
    for r in rewards:
        r = float(r)
        baseline = r if baseline is None else baseline - (1.0 - decay) * (baseline - r)
        after.append(baseline)
        out.append(r - baseline)
    return np.array(out, dtype=float), after


__all__ = ["UPDATES", "UPDATE_OPTIONS", "baseline_advantages"]
