"""The skeleton of NASNet-style cell networks (the `nasnet` and `darts` spaces): each cell reads
the outputs of the two cells before it."""

from __future__ import annotations

import torch
import torch.nn as nn


class TwoInputCellNetwork(nn.Module):
    """Stem, then cells each fed the outputs of the two cells before it (the stem's output
    twice for the first), then the head on the last cell's output."""

    def __init__(self, stem: nn.Module, cells: list[nn.Module], head: nn.Module):
        super().__init__()
        self.stem = stem
        self.cells = nn.ModuleList(cells)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.head(s1)
