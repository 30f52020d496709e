"""`fbnet`: FBNet's DNAS (Wu et al., CVPR 2019), a stochastic supernet whose mixed ops are
weighted by a Gumbel-softmax mask per position, m_l = softmax((log p_l + g_l) / τ) with
p_l = softmax(θ_l).

- loss: CE · α · log(LAT)^β with LAT the table's cost at the masks (LAT of the relaxed
  architecture; the expected latency as the masks harden), α 0.2 and β the `lambda` option
  (0.6 in the paper; 0 leaves the bare CE), LAT in a unit where the space's smallest cost is
  above e (hwnas.oneshot.losses.fbnet);
- τ = `tau0` · exp(−`tau_decay` · epoch): 5.0 and 0.045, the paper's schedule;
- weights: the trainer's SGD on training batches, with the masks drawn from θ detached and the
  bare CE (the latency factor is constant in the weights: it would only rescale their
  learning rate, differently for each β of a sweep);
- θ: Adam (lr 0.01, weight decay 5e-4, the paper's settings; it names no betas, so Adam's
  defaults) on held-out batches.

The paper alternates per epoch (an epoch of weights on 80% of the images, then one of θ on
the other 20%); here the trainer alternates per step: one θ step after every weight step on a
held-out batch, after the weight-only warm-up epochs (the paper's first 10 of 90). The paper
samples its final architectures from the learnt distribution; this derives the argmax of θ
per position (the trainer's derivation), the distribution's most probable architecture.

The strategy (options, registration) and its mechanism (`FBNet`, the steps) are both here;
torch is imported inside the steps, so listing strategies loads none.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hwnas.oneshot.losses import fbnet, positive_floor
from hwnas.oneshot.method import OneShotMethod
from hwnas.options import Option
from hwnas.registry import STRATEGIES
from hwnas.strategies.oneshot import COMMON_OPTIONS, OneShotStrategy

if TYPE_CHECKING:
    import torch

ALPHA = 0.2  # the paper's α of CE · α · log(LAT)^β


def exponential_temperature(epoch: int, tau0: float, decay: float) -> float:
    """τ0 · exp(−decay · epoch)."""
    return tau0 * math.exp(-decay * epoch)


class FBNet(OneShotMethod):
    """FBNet's weight and θ steps (the module docstring)."""

    arch_every = 1

    def __init__(self, *args, **kwargs):
        import torch

        super().__init__(*args, **kwargs)
        # θ's optimiser as in the paper's search: Adam, lr 0.01, weight decay 5e-4
        self.arch_optimizer = torch.optim.Adam(
            self.supernet.arch_parameters(), lr=self.options["arch_lr"],
            weight_decay=self.options["arch_weight_decay"])
        self.tau = float(self.options["tau0"])
        self.floor = None if self.cost is None else positive_floor(*self.cost.range())

    def start_epoch(self, epoch: int, epochs: int) -> None:
        super().start_epoch(epoch, epochs)
        self.tau = exponential_temperature(epoch, self.options["tau0"],
                                           self.options["tau_decay"])

    def masks(self, detach: bool = False) -> list[torch.Tensor]:
        """One Gumbel-softmax mask per position (θ detached for a weight step)."""
        import torch

        from hwnas.oneshot.gumbel import concrete_sample

        out = []
        for theta in self.supernet.alphas:
            log_p = torch.log_softmax(theta.detach() if detach else theta, -1)
            out.append(concrete_sample(log_p, self.tau, self.generator)[0])
        return out

    def arch_loss(self, ce: torch.Tensor, cost: torch.Tensor | None) -> torch.Tensor:
        """CE · α · log(LAT)^β; the bare CE without a table or with β = 0."""
        if cost is None or self.lam == 0:
            return ce
        return fbnet(ce, cost, alpha=ALPHA, beta=self.lam, floor=self.floor)

    def weight_step(self, x, y) -> dict:
        import torch.nn.functional as F

        self.supernet.set_weights(self.masks(detach=True))
        logits = self.supernet(x)
        loss = F.cross_entropy(logits, y)
        self.step_weights(loss)
        return {"loss": float(loss.detach()), "correct": int((logits.argmax(1) == y).sum())}

    def arch_step(self, x, y) -> dict:
        import torch
        import torch.nn.functional as F

        masks = self.masks()
        self.supernet.set_weights(masks)
        loss = self.arch_loss(F.cross_entropy(self.supernet(x), y), self.expected_cost(masks))
        alphas = self.supernet.arch_parameters()
        self.arch_optimizer.zero_grad(set_to_none=True)
        # θ only: the weights' gradients of a held-out batch are not wanted
        for a, g in zip(alphas, torch.autograd.grad(loss, alphas), strict=True):
            a.grad = g
        self.arch_optimizer.step()
        return {"loss": float(loss.detach())}

    def log(self) -> dict:
        return {"tau": self.tau}


@STRATEGIES.register("fbnet")
class FBNetStrategy(OneShotStrategy):
    """FBNet (DNAS): Gumbel-softmax masks, θ by Adam on held-out batches, latency loss."""

    plot_style = {"color": "#393b79", "marker": "h"}

    mechanism = FBNet
    # `fast`: at the paper's architecture learning rate α moves about lr per Adam step, and
    # the preset leaves few steps (one architecture step per weight step: about 30 in the
    # preset's 3 search epochs); arch_lr x steps near 1 lets the
    # distribution move (at the paper's rate the largest probability change over a fast sweep
    # was 0.001: the initial argmax in every setting)
    presets = {"fast": {**OneShotStrategy.presets["fast"], "arch_lr": 0.03}}
    option_specs = {
        **COMMON_OPTIONS,
        "tau0": Option(5.0, float, low=0, low_open=True, help="initial Gumbel temperature"),
        "tau_decay": Option(0.045, float, low=0,
                            help="τ is multiplied by exp(-tau_decay) each epoch"),
        "arch_lr": Option(0.01, float, low=0, low_open=True),
        "arch_weight_decay": Option(5e-4, float, low=0),
        "lambda": Option(0.6, float, low=0, help="β of CE·0.2·log(LAT)^β; 0: bare CE"),
    }
