"""Static model costs: parameter count and FLOPs, both as torch itself counts them."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: torch.nn.Module) -> int:
    """Number of parameter elements (shared parameters counted once; buffers not counted)."""
    return int(sum(p.numel() for p in model.parameters()))


def count_flops(model: torch.nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass on a zero input of `input_shape` (batch dimension included).

    Counted by `torch.utils.flop_counter.FlopCounterMode`, which counts a multiply-accumulate as
    2 FLOPs (FLOPs = 2 x MACs): `Linear(10, 20)` on a batch of 1 is 400 FLOPs (200 MACs), a
    depthwise conv is counted per group. It counts only matmul/conv-like ops (mm, addmm, bmm,
    convolution, attention); bias additions, batch norm, activations and pooling count 0.

    The model runs in eval mode under `torch.no_grad` (so batch norm uses its running stats and
    nothing is updated); its previous train/eval mode is restored afterwards.
    """
    shape = tuple(int(d) for d in input_shape)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(shape, device=device, dtype=dtype))
        return int(counter.get_total_flops())
    finally:
        model.train(was_training)
