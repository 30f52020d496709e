"""OneShotMethod: the hooks of one gradient-based method; the loop is the trainer's.

As with strategies and pymoo's algorithms, the loop lives outside (hwnas.oneshot.trainer): per
epoch `start_epoch`, then per training batch `weight_step` and, every `arch_every` weight steps
after the warm-up epochs, `arch_step` on a batch of the held-out architecture split (after
the weight step, or before it for a method with `arch_first`). A method
owns how the supernet's mixed ops run in each step (`Supernet.set_*`), its architecture
optimiser and its loss; the trainer owns the data, the weight optimiser's schedule, logging and
derivation. A new method is one file: this subclass beside the strategy that names it
(`OneShotStrategy.mechanism`, e.g. hwnas/strategies/darts.py); a plug-in imports both bases
and `COMMON_OPTIONS` from `hwnas.plugins`.

This module imports no torch, so a method's file can define its subclass at import time and
`hwnas list` still loads no torch: each step imports torch inside it, when a supernet trains.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from hwnas.oneshot.losses import latency_term

if TYPE_CHECKING:  # the trainer hands these in; nothing here builds one
    import torch

    from hwnas.oneshot.expected_cost import ExpectedCost
    from hwnas.oneshot.supernet import Supernet


class OneShotMethod(ABC):
    """Subclasses set `arch_every` and implement `weight_step` and `arch_step`."""

    arch_every: ClassVar[int] = 1  # weight steps per architecture step
    # True: an iteration's architecture step runs before its weight step (DARTS's code), else
    # after it. Either way `train_batch` is the iteration's training batch when it runs.
    arch_first: ClassVar[bool] = False

    def __init__(self, supernet: Supernet, weight_optimizer: torch.optim.Optimizer,
                 cost: ExpectedCost | None, target: float | None, lam: float,
                 options: dict[str, Any], generator: torch.Generator):
        self.supernet = supernet
        self.weight_optimizer = weight_optimizer
        self.cost = cost  # None: no table, the search is on accuracy alone
        self.target = target
        self.lam = lam
        self.options = options
        self.generator = generator  # every random draw of the method, for repeatable runs
        self.epoch, self.epochs = 0, 1
        self.warmup_epochs = 0  # set by the trainer: epochs of weight steps only
        # set by the trainer before each iteration's steps: (x, y) of its training batch
        self.train_batch: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- hooks ------------------------------------------------------------------------------
    def start_epoch(self, epoch: int, epochs: int) -> None:
        """Called before each epoch (FBNet's and SNAS's temperature schedules)."""
        self.epoch, self.epochs = epoch, epochs

    @abstractmethod
    def weight_step(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        """One update of the supernet's weights on a training batch; returns
        {"loss": float, "correct": int} (and anything else worth logging)."""

    @abstractmethod
    def arch_step(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        """One update of the architecture parameters on a held-out batch; returns
        {"loss": float, ...}."""

    def distribution(self) -> list[torch.Tensor]:
        """The current probability of each option per position (softmax of α by default)."""
        return [p.detach() for p in self.supernet.probs()]

    def log(self) -> dict:
        """Method-specific values logged once per epoch (a temperature, a baseline)."""
        return {}

    def before_child(self) -> None:
        """Called before the trainer reads a derived network's weights out of the supernet
        (`Supernet.child`): a method whose supernet computes that network from weights held
        elsewhere (Single-Path NAS's superkernel BatchNorm) puts them in place here."""
        return None  # the others' supernets hold every path's weights where `child` reads them

    # -- helpers shared by methods ----------------------------------------------------------
    def expected_cost(self, probs: list[torch.Tensor]) -> torch.Tensor | None:
        return None if self.cost is None else self.cost(probs)

    def loss(self, logits: torch.Tensor, y: torch.Tensor,
             cost: torch.Tensor | None) -> torch.Tensor:
        """CE with the method's latency term (`latency_loss` option) when there is a cost."""
        import torch.nn.functional as F

        ce = F.cross_entropy(logits, y)
        if cost is None or self.lam == 0:
            return ce
        return latency_term(self.options["latency_loss"], ce, cost, self.target, self.lam)

    def step_weights(self, loss: torch.Tensor, clip: float | None = None) -> None:
        """Backward into the weights only and step their optimiser (α untouched); with
        `clip`, the weights' gradient norm is clipped to it first (DARTS's, SNAS's code)."""
        self.weight_optimizer.zero_grad(set_to_none=True)
        for a in self.supernet.arch_parameters():
            a.grad = None
        loss.backward()
        for a in self.supernet.arch_parameters():
            a.grad = None
        if clip is not None:
            import torch

            torch.nn.utils.clip_grad_norm_(self.supernet.weight_parameters(), clip)
        self.weight_optimizer.step()
