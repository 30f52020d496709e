"""Hardware terms of the one-shot losses, each as its paper writes it.

`cost` is the expected cost E[lat] (a 0-d tensor, differentiable in the architecture
parameters), `target` the latency target T (> 0) and `ce` the cross-entropy.

- ProxylessNAS `mul#log`:   CE · α · (log E[lat] / log T)^β        (authors' defaults α 0.2, β 0.3)
- ProxylessNAS `add#linear`: CE + λ · (E[lat] − T) / T               (λ 0.2)
- FBNet:                     CE · α · (log E[lat])^β                 (α 0.2, β 0.6)

Each method exposes one trade-off knob, `lam`, the value a `--sweep lambda=...` varies: β for the
multiplicative forms (β = 0 leaves the bare CE), λ for the additive one. The logarithms need
costs above 1 (ms, mJ or MB); `log_safe` keeps E[lat] off 0 and 1 where a table prices a whole
network below that (`unit_scale`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # tensors arrive from the caller; strategies import this without torch
    import torch

LATENCY_LOSSES = ("mul_log", "add_linear")


def mul_log(ce: torch.Tensor, cost: torch.Tensor, target: float, alpha: float = 0.2,
            beta: float = 0.3) -> torch.Tensor:
    """ProxylessNAS's multiplicative form. log T must be positive: T > 1 in the table's unit;
    below that, costs and target are both scaled by `unit_scale` (a ratio the form keeps)."""
    scale = unit_scale(target)
    # a cost at or below zero (a calibrated table extrapolating) counts as 1% of the target
    ratio = (cost.clamp_min(0.01 * target) * scale).log() / math.log(target * scale)
    return ce * alpha * ratio.clamp_min(1e-6) ** beta


def add_linear(ce: torch.Tensor, cost: torch.Tensor, target: float,
               lam: float = 0.2) -> torch.Tensor:
    """ProxylessNAS's additive form: λ times the relative excess over the target."""
    return ce + lam * (cost - target) / target


def fbnet(ce: torch.Tensor, cost: torch.Tensor, alpha: float = 0.2, beta: float = 0.6,
          floor: float = 1.0) -> torch.Tensor:
    """FBNet's CE · α · log(LAT)^β. The paper's LAT (tens of ms on a phone) has log LAT > 1;
    here LAT is counted in a unit where `floor` (the space's smallest cost) is above e, so
    the term is defined and grows with LAT for every table (`unit_scale`)."""
    return ce * alpha * (cost.clamp_min(floor) * unit_scale(floor)).log() ** beta


def positive_floor(low: float, high: float) -> float:
    """A cost the log-forms can stand on: the space's smallest cost, or 1% of its largest where
    a calibrated table predicts the smallest network at or below zero (its affine correction
    extrapolates there); costs are clamped at it before the logarithm."""
    return low if low > 0 else max(0.01 * high, 1e-9)


def unit_scale(target: float) -> float:
    """A power of ten that puts `target` above e, so log(T) > 1 in mul_log."""
    if not target > 0:
        raise ValueError(f"a log-form latency loss needs a positive cost; got {target!r}")
    scale = 1.0
    while target * scale <= math.e:
        scale *= 10.0
    return scale


def latency_term(kind: str, ce: torch.Tensor, cost: torch.Tensor, target: float,
                 lam: float) -> torch.Tensor:
    """The loss of `kind` with `lam` as its knob (β of mul_log, λ of add_linear)."""
    if kind == "mul_log":
        return mul_log(ce, cost, target, beta=lam) if lam > 0 else ce
    if kind == "add_linear":
        return add_linear(ce, cost, target, lam)
    raise ValueError(f"unknown latency loss {kind!r}; allowed: {', '.join(LATENCY_LOSSES)}")
