"""The autoregressive LSTM controller of REINFORCE-based NAS (Zoph & Le, 2017; ENAS, Pham et
al., 2018): one decision per label of `space.choices()`, in order.

Step t reads the embedding of decision t-1 (a learned start token at t = 0), advances one
LSTMCell and scores position t's options with that position's own linear head ("each
prediction is carried out by a softmax classifier and then fed into the next time step as
input", Zoph & Le). Logits are temperature-scaled, then squashed as ENAS does:
logits = C * tanh(logits / T), so |logit| <= C (tanh constant C = 2.5 in ENAS).
Every parameter starts uniform in [-0.1, 0.1] (ENAS), drawn from the strategy's generator.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn


@contextlib.contextmanager
def one_thread():
    """Run the controller on one intra-op thread (then restore): its floating-point results,
    hence its samples, must not depend on how many cores a run or its resumption had."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


class LSTMController(nn.Module):
    def __init__(self, sizes: list[int], hidden: int, generator: torch.Generator,
                 tanh_constant: float | None = 2.5, temperature: float = 1.0):
        super().__init__()
        self.sizes = [int(n) for n in sizes]
        self.hidden = int(hidden)
        self.tanh_constant = tanh_constant
        self.temperature = float(temperature)
        # embedding rows: 0 = the start token, then every (position, option) in order
        self.offsets = [1 + int(s) for s in np.cumsum([0, *self.sizes[:-1]])]
        self.embed = nn.Embedding(1 + sum(self.sizes), self.hidden)
        self.cell = nn.LSTMCell(self.hidden, self.hidden)
        self.heads = nn.ModuleList(nn.Linear(self.hidden, n) for n in self.sizes)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-0.1, 0.1, generator=generator)

    def logits(self, h: torch.Tensor, t: int) -> torch.Tensor:
        z = self.heads[t](h) / self.temperature
        if self.tanh_constant is not None:
            z = self.tanh_constant * torch.tanh(z)
        return z

    def _run(self, batch: int, choose) -> list[torch.Tensor]:
        """Logits of every position for `batch` sequences; `choose(t, logits)` gives the
        decisions (B,) fed to the next step."""
        h = torch.zeros(batch, self.hidden)
        c = torch.zeros(batch, self.hidden)
        x = self.embed(torch.zeros(batch, dtype=torch.long))  # the learned start token
        out = []
        for t in range(len(self.sizes)):
            h, c = self.cell(x, (h, c))
            z = self.logits(h, t)
            out.append(z)
            x = self.embed(choose(t, z) + self.offsets[t])
        return out

    def sample(self, n: int, generator: torch.Generator) -> np.ndarray:
        """(n, positions) option indices, drawn from the policy."""
        picks: list[torch.Tensor] = []

        def choose(t, z):
            idx = torch.multinomial(torch.softmax(z, dim=-1), 1, generator=generator)[:, 0]
            picks.append(idx)
            return idx

        with torch.no_grad():
            self._run(n, choose)
        return torch.stack(picks, dim=1).numpy()

    def evaluate(self, choices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor,
                                                       list[torch.Tensor]]:
        """For given decisions (B, positions): log pi(sequence) (B,), the summed entropy of the
        per-step distributions (B,), and the per-step probabilities (teacher forcing)."""
        idx = torch.as_tensor(np.asarray(choices), dtype=torch.long)
        logits = self._run(len(idx), lambda t, z: idx[:, t])
        logp = [torch.log_softmax(z, dim=-1) for z in logits]
        chosen = torch.stack([lp.gather(1, idx[:, t:t + 1])[:, 0] for t, lp in enumerate(logp)],
                             dim=1).sum(dim=1)
        entropy = torch.stack([-(lp.exp() * lp).sum(dim=-1) for lp in logp], dim=1).sum(dim=1)
        return chosen, entropy, [lp.exp() for lp in logp]
