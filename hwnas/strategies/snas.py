"""`snas`: SNAS (Xie, Zheng, Liu & Lin, ICLR 2019), with a resource penalty. Every mixed op is
weighted by a relaxed one-hot sample Z_l of the concrete (Gumbel-softmax) distribution of its
position, and the weights and α are updated from the same training batch by one backward pass.

- Z_l = softmax((α_l + g_l) / τ), g_l Gumbel noise drawn with the method's generator; τ falls
  linearly from `tau0` (1.0) at the first epoch to `tau_end` (0.03) at the last, as in the
  authors' search runs;
- loss: CE(Z) + λ · C(Z) / T, with C the table's cost and T the loss's target (so λ is
  unit-free, as in the `add_linear` form); the CE's α gradient is the pathwise search
  gradient through Z;
- the cost's α gradient, `resource_grad`:
  `pathwise`: autograd of C evaluated at Z (the reparameterised estimator);
  `reinforce`: Σ_l C_l(Z_l) ∇_α log p(Z_l; α_l, τ), the policy gradient of the locally
  decomposed cost with the concrete log-density (Maddison, Mnih & Teh, 2017), no baseline.
  C_l(Z_l) is position l's share of the cost in a space whose positions add up; where they
  do not (NB201's cell, a peak-memory maximum) every position is credited the whole C(Z);
- weights: the trainer's SGD; α: Adam (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3, the
  authors' settings, shared with DARTS); before each step the gradient norms are clipped as
  the authors' code clips them, the weights' at 5 and α's at 10.

The joint update happens in `weight_step` once the warm-up epochs (`warmup_epochs`) are over;
before that Z is drawn from the current α but only the weights step. `arch_step` changes
nothing: SNAS has no architecture batch. Derivation is the trainer's argmax of α.

The strategy (options, registration) and its mechanism (`Snas`, the steps) are both here;
torch is imported inside the steps, so listing strategies loads none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwnas.oneshot.method import OneShotMethod
from hwnas.options import Option
from hwnas.registry import STRATEGIES
from hwnas.strategies.oneshot import COMMON_OPTIONS, OneShotStrategy

if TYPE_CHECKING:
    import torch

RESOURCE_GRADS = ("pathwise", "reinforce")
# The authors' train_search.py clips every step's gradient norms: the weights' at 5
# (`grad_clip`), α's at 10.
WEIGHT_GRAD_CLIP = 5.0
ARCH_GRAD_CLIP = 10.0


def linear_temperature(epoch: int, epochs: int, tau0: float, tau_end: float) -> float:
    """τ0 at the first epoch to τ_end at the last, linearly."""
    if epochs <= 1:
        return tau0
    return tau0 + (tau_end - tau0) * epoch / (epochs - 1)


class Snas(OneShotMethod):
    """SNAS's joint step and resource term (the module docstring)."""

    arch_every = 1  # arch_step is a no-op; the joint update is in weight_step

    def __init__(self, *args, **kwargs):
        import torch

        super().__init__(*args, **kwargs)
        self.arch_optimizer = torch.optim.Adam(
            self.supernet.arch_parameters(), lr=self.options["arch_lr"], betas=(0.5, 0.999),
            weight_decay=self.options["arch_weight_decay"])
        if self.options["resource_grad"] not in RESOURCE_GRADS:
            raise ValueError(f"unknown resource_grad {self.options['resource_grad']!r}; "
                             f"allowed: {', '.join(RESOURCE_GRADS)}")
        self.tau = float(self.options["tau0"])
        self.last_loss = float("nan")

    def start_epoch(self, epoch: int, epochs: int) -> None:
        super().start_epoch(epoch, epochs)
        self.tau = linear_temperature(epoch, epochs, self.options["tau0"],
                                      self.options["tau_end"])

    def searching(self) -> bool:
        return self.epoch >= self.warmup_epochs

    # -- sampling and the resource term -----------------------------------------------------
    def sample(self, detach: bool = False) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(Z per position, log Z per position) at the current temperature."""
        from hwnas.oneshot.gumbel import concrete_sample

        zs, logs = [], []
        for a in self.supernet.alphas:
            z, log_z = concrete_sample(a.detach() if detach else a, self.tau, self.generator)
            zs.append(z)
            logs.append(log_z)
        return zs, logs

    def penalty_scale(self) -> float:
        """λ / T: the penalty in units of the target, so one λ suits every table."""
        return self.lam / self.target if self.target else self.lam

    def position_costs(self, zs: list[torch.Tensor]) -> list[torch.Tensor]:
        """C_l(Z_l): each position's share of the cost where the space's positions add up,
        else the whole network's cost C(Z) for every position."""
        import torch

        cost = self.cost
        if cost.additive and not cost.is_max:
            return [torch.dot(z.to(torch.float64), c.to(z.device)).to(z.dtype)
                    for z, c in zip(zs, cost.option_costs, strict=True)]
        whole = cost(zs)
        return [whole for _ in zs]

    def resource_term(self, zs, logs) -> tuple[torch.Tensor, torch.Tensor]:
        """(the penalty's value λ/T · C(Z), the term whose α gradient is the chosen
        estimator's). Both are 0 without a table or with λ = 0."""
        import torch

        from hwnas.oneshot.gumbel import concrete_log_density

        if self.cost is None or self.lam == 0:
            zero = torch.zeros((), dtype=zs[0].dtype, device=zs[0].device)
            return zero, zero
        scale = self.penalty_scale()
        value = scale * self.cost(zs)
        if self.options["resource_grad"] == "pathwise":
            return value, value
        shares = self.position_costs([z.detach() for z in zs])
        surrogate = sum(c.detach() * concrete_log_density(a, log_z.detach(), self.tau)
                        for c, a, log_z in zip(shares, self.supernet.alphas, logs,
                                               strict=True))
        return value.detach(), scale * surrogate

    # -- steps --------------------------------------------------------------------------------
    def weight_step(self, x, y) -> dict:
        """The CE is reported as the step's loss (comparable across warm-up and search); the
        full objective, penalty included, as the no-op arch step's."""
        import torch.nn.functional as F

        zs, logs = self.sample(detach=not self.searching())
        self.supernet.set_weights(zs)
        logits = self.supernet(x)
        ce = F.cross_entropy(logits, y)
        if self.searching():
            self._joint_step(ce, zs, logs)
        else:
            self.step_weights(ce, clip=WEIGHT_GRAD_CLIP)
        return {"loss": float(ce.detach()), "correct": int((logits.argmax(1) == y).sum())}

    def _joint_step(self, ce: torch.Tensor, zs, logs) -> None:
        import torch

        value, grad_term = self.resource_term(zs, logs)
        self.weight_optimizer.zero_grad(set_to_none=True)
        self.arch_optimizer.zero_grad(set_to_none=True)
        (ce + grad_term).backward()  # one pass: weights and α from the same batch
        torch.nn.utils.clip_grad_norm_(self.supernet.weight_parameters(), WEIGHT_GRAD_CLIP)
        torch.nn.utils.clip_grad_norm_(self.supernet.arch_parameters(), ARCH_GRAD_CLIP)
        self.weight_optimizer.step()
        self.arch_optimizer.step()
        self.last_loss = float((ce + value).detach())

    def arch_step(self, x, y) -> dict:
        return {"loss": self.last_loss}

    def log(self) -> dict:
        return {"tau": self.tau}


@STRATEGIES.register("snas")
class SnasStrategy(OneShotStrategy):
    """SNAS: Gumbel (concrete) samples, one joint update, λ·cost/T penalty."""

    plot_style = {"color": "#843c39", "marker": "d"}

    mechanism = Snas
    # `fast`: at the paper's architecture learning rate α moves about lr per Adam step, and
    # the preset leaves few steps (one joint update per weight step: about 30 in the preset's
    # 3 search epochs); arch_lr x steps near 1 lets the
    # distribution move (at the paper's rate the largest probability change over a fast sweep
    # was 0.001: the initial argmax in every setting)
    presets = {"fast": {**OneShotStrategy.presets["fast"], "arch_lr": 0.03}}
    option_specs = {
        **COMMON_OPTIONS,
        "tau0": Option(1.0, float, low=0, low_open=True, help="temperature at the first epoch"),
        "tau_end": Option(0.03, float, low=0, low_open=True,
                          help="temperature at the last epoch (linear in between)"),
        "resource_grad": Option("pathwise", str, choices=RESOURCE_GRADS,
                                help="the penalty's α gradient: through the sample, or "
                                     "the policy gradient per position"),
        "arch_lr": Option(3e-4, float, low=0, low_open=True),
        "arch_weight_decay": Option(1e-3, float, low=0),
        "lambda": Option(0.1, float, low=0, help="weight of the cost penalty λ·C(Z)/T"),
    }
