"""ScheduledDropPath (Zoph et al. 2018, NASNet, section 4): while a cell network trains, each
path of a cell is dropped for a whole sample with a probability that grows linearly over the
training, from 0 at the first step to a final rate at the last; kept paths are scaled by
1 / (1 - p) so every path's expected value is unchanged, and evaluation (hence ONNX export)
runs every path unscaled. The paper found the linear increase, not a fixed rate, what makes
drop path help NASNet cells.

A space marks its drop-path points with an identity module whose class sets
`drop_path_point = True` after each path (the NASNet cell: after each non-identity op of a
block; hwnas.spaces cannot import this module, a layer of its own row, so it cannot place a
`DropPath` itself). `DropPathSchedule` replaces the points of the network it trains by
`DropPath` modules (`install`; they hold no weights, so the state dict is unchanged) and
drives them together, step by step, from the training loop (`hwnas.nn.train.train(on_step=)`).
A network built for evaluation or export keeps its identity points.
The rate is per network, not per cell depth (the reference implementation also scales it by
the cell's depth in the network; the paper's text does not).
"""

from __future__ import annotations

import torch
import torch.nn as nn


class DropPath(nn.Module):
    """In training mode, zeroes each sample's input with probability `p` and divides the kept
    samples by 1 - p; in eval mode, or at p = 0, returns its input (nothing is traced into an
    exported graph). `p` is set from outside (a schedule), not learned."""

    drop_path_point = True

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0.0:
            return x
        keep = 1.0 - self.p
        # one draw per sample, broadcast over its channels and pixels: the whole path goes
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype,
                           device=x.device).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p:g}"


def drop_path_points(model: nn.Module) -> list[nn.Module]:
    """The modules of `model` that mark (or are) a drop-path point, in module order."""
    return [m for m in model.modules() if getattr(m, "drop_path_point", False)]


def install(model: nn.Module) -> list[DropPath]:
    """Replace each drop-path point of `model` that is not a `DropPath` yet by one (p = 0);
    returns every `DropPath` of the model, in module order."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if getattr(child, "drop_path_point", False) and not isinstance(child, DropPath):
                setattr(parent, name, DropPath())
    return [m for m in model.modules() if isinstance(m, DropPath)]


class DropPathSchedule:
    """Installs `DropPath` at every drop-path point of `model` (in place) and sets
    p = final_rate * step / total_steps on all of them when called as
    `schedule(step, total_steps)` before each training step (the `on_step` of
    `hwnas.nn.train.train`). Raises ValueError when the model has no points: a rate that
    could not apply anywhere is a mistake to say, not to ignore."""

    def __init__(self, model: nn.Module, final_rate: float):
        if not 0.0 <= final_rate < 1.0:
            raise ValueError(f"a drop-path rate is in [0, 1); got {final_rate}")
        self.points = install(model)
        if not self.points:
            raise ValueError(f"{type(model).__name__} has no drop-path points (DropPath modules)")
        self.final_rate = float(final_rate)

    def rate(self, step: int, total_steps: int) -> float:
        return self.final_rate * min(max(step, 0), total_steps) / max(total_steps, 1)

    def __call__(self, step: int, total_steps: int) -> None:
        self._set(self.rate(step, total_steps))

    def off(self) -> None:
        """p = 0 everywhere: after training, so that what still runs in training mode
        (BatchNorm recalibration) sees every path, as evaluation does."""
        self._set(0.0)

    def _set(self, p: float) -> None:
        for point in self.points:
            point.p = p
