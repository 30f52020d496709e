"""RENAS's mutation controller (hwnas.strategies.renas): an encoder over a parent's decisions
and two heads, which decision to change and its new value (never the value it has)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

MASKED = -1e9  # a logit no softmax picks, finite so that 0 * log p stays 0 in the entropy


class MutationController(nn.Module):
    """Encoder over a parent's decisions, and the two heads of the mutator (module docstring)."""

    def __init__(self, sizes: list[int], hidden: int, generator: torch.Generator,
                 bidirectional: bool = True, tanh_constant: float | None = 2.5):
        super().__init__()
        self.sizes = [int(n) for n in sizes]
        self.tanh_constant = tanh_constant
        # embedding rows: every (position, option) in order, so a value means its label too
        self.offsets = torch.as_tensor(np.cumsum([0, *self.sizes[:-1]]), dtype=torch.long)
        self.embed = nn.Embedding(sum(self.sizes), hidden)
        self.encoder = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=bidirectional)
        width = hidden * (2 if bidirectional else 1)
        self.where = nn.Linear(width, 1)  # which decision: one score per position
        self.what = nn.ModuleList(nn.Linear(width, n) for n in self.sizes)  # its new value
        self.fixed = torch.as_tensor([n < 2 for n in self.sizes])  # nothing to change there
        with torch.no_grad():  # ENAS's controller init, from the strategy's generator
            for p in self.parameters():
                p.uniform_(-0.1, 0.1, generator=generator)

    def _squash(self, z: torch.Tensor) -> torch.Tensor:
        return z if self.tanh_constant is None else self.tanh_constant * torch.tanh(z)

    def log_policy(self, parents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For parents (B, P) of option indices: log p(position) (B, P), and log p(value |
        position) (B, P, max options), the parent's own value (and padding) masked out."""
        states, _ = self.encoder(self.embed(parents + self.offsets))
        where = self._squash(self.where(states)[..., 0]).masked_fill(self.fixed, MASKED)
        width = max(self.sizes)
        what = torch.full((*parents.shape, width), MASKED, dtype=states.dtype)
        for k, head in enumerate(self.what):
            what[:, k, :self.sizes[k]] = self._squash(head(states[:, k]))
        what = what.scatter(2, parents[..., None], MASKED)  # the child differs from its parent
        return torch.log_softmax(where, dim=-1), torch.log_softmax(what, dim=-1)

    def sample(self, parents: np.ndarray, generator: torch.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(position, new value, log p of that mutation) per parent row, drawn from the policy."""
        idx = torch.as_tensor(np.asarray(parents), dtype=torch.long)
        with torch.no_grad():
            where, what = self.log_policy(idx)
            k = torch.multinomial(where.exp(), 1, generator=generator)[:, 0]
            rows = torch.arange(len(idx))
            v = torch.multinomial(what[rows, k].exp(), 1, generator=generator)[:, 0]
            logp = where[rows, k] + what[rows, k, v]
        return k.numpy(), v.numpy(), logp.numpy()

    def evaluate(self, parents: np.ndarray, positions: np.ndarray, values: np.ndarray
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(position, value | parent) (B,) and the exact entropy of the two softmaxes the
        mutation was drawn from (B,), with gradients."""
        idx = torch.as_tensor(np.asarray(parents), dtype=torch.long)
        k = torch.as_tensor(np.asarray(positions), dtype=torch.long)
        v = torch.as_tensor(np.asarray(values), dtype=torch.long)
        where, what = self.log_policy(idx)
        rows = torch.arange(len(idx))
        chosen = what[rows, k]
        entropy = -(where.exp() * where).sum(-1) - (chosen.exp() * chosen).sum(-1)
        return where[rows, k] + chosen[rows, v], entropy


