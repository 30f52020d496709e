"""`darts`: DARTS (Liu, Simonyan & Yang, ICLR 2019), with the table's expected cost in the
validation loss. Every mixed op is the softmax(α)-weighted sum of all its candidates; weights
step on training batches, α on held-out batches, alternately.

- first order: ∇_α L_val(w, α);
- second order: the unrolled step w' = w − ξ(m·v + ∇_w L_train(w, α) + wd·w), with ξ the
  weight optimiser's current learning rate, m its momentum and v its momentum buffer, then
  ∇_α L_val(w', α) − ξ ∇²_{α,w} L_train(w, α) ∇_w' L_val(w', α), the Hessian-vector product by
  central finite differences at w ± ε∇_w' L_val with ε = 0.01 / ‖∇_w' L_val‖;
- α: Adam (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3);
- order and clipping as the authors' code: in each iteration α steps first (on a held-out
  batch, the unrolled step on the iteration's training batch), then the weights on that
  training batch, their gradient norm clipped at 5;
- the hardware term: E[cost] under softmax(α) inside L_val (the `latency_loss` form, `lambda`).

Derivation is the trainer's argmax per position, `none`/`zero` included (NAS-Bench-201's DARTS
baseline derives each edge that way).

The strategy (options, registration) and its mechanism (`Darts`, the steps) are both here;
torch is imported inside the steps, so listing strategies loads none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwnas.oneshot.losses import LATENCY_LOSSES
from hwnas.oneshot.method import OneShotMethod
from hwnas.options import Option
from hwnas.registry import STRATEGIES
from hwnas.strategies.oneshot import COMMON_OPTIONS, OneShotStrategy

if TYPE_CHECKING:
    import torch

# DARTS's train_search.py clips the weights' gradient norm at 5 (`grad_clip`) before each step
WEIGHT_GRAD_CLIP = 5.0


class Darts(OneShotMethod):
    """DARTS's weight and architecture steps (the module docstring)."""

    arch_every = 1
    # DARTS's code steps α first in each iteration (Architect.step, then the weights on the
    # same training batch), so the unrolled step starts from the weights before that batch.
    arch_first = True
    # The finite-difference step of the Hessian-vector product is this over ‖v‖ (the paper's
    # 0.01): a perturbation of norm 0.01 in weight space, coarse where ReLUs switch.
    hessian_eps = 0.01

    def __init__(self, *args, **kwargs):
        import torch

        super().__init__(*args, **kwargs)
        self.arch_optimizer = torch.optim.Adam(
            self.supernet.arch_parameters(), lr=self.options["arch_lr"], betas=(0.5, 0.999),
            weight_decay=self.options["arch_weight_decay"])
        self.second_order = self.options["order"] == 2

    def weight_step(self, x, y) -> dict:
        import torch.nn.functional as F

        self.supernet.set_weights([p.detach() for p in self.supernet.probs()])
        logits = self.supernet(x)
        loss = F.cross_entropy(logits, y)
        self.step_weights(loss, clip=WEIGHT_GRAD_CLIP)
        return {"loss": float(loss.detach()), "correct": int((logits.argmax(1) == y).sum())}

    def val_loss(self, x, y) -> torch.Tensor:
        """L_val(w, α): the hardware-aware loss with softmax(α) in the graph."""
        probs = self.supernet.probs()
        self.supernet.set_weights(probs)
        return self.loss(self.supernet(x), y, self.expected_cost(probs))

    def arch_step(self, x, y) -> dict:
        import torch

        alphas = self.supernet.arch_parameters()
        self.arch_optimizer.zero_grad(set_to_none=True)
        if self.second_order:
            # the unrolled step is on this iteration's training batch (the trainer's), which
            # the weights have not stepped on yet (`arch_first`)
            loss = self._unrolled_grads(x, y, *self.train_batch)
        else:
            loss = self.val_loss(x, y)
            grads = torch.autograd.grad(loss, alphas)
            for a, g in zip(alphas, grads, strict=True):
                a.grad = g
        self.arch_optimizer.step()
        return {"loss": float(loss.detach())}

    # -- second order -------------------------------------------------------------------------
    def _train_loss(self, x, y) -> torch.Tensor:
        import torch.nn.functional as F

        self.supernet.set_weights(self.supernet.probs())
        return F.cross_entropy(self.supernet(x), y)

    def _unrolled_grads(self, vx, vy, tx, ty) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        weights = self.supernet.weight_parameters()
        alphas = self.supernet.arch_parameters()
        group = self.weight_optimizer.param_groups[0]
        xi, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        original = [w.detach().clone() for w in weights]
        # w' = w - xi * (m * v + grad + wd * w)
        self.supernet.set_weights([p.detach() for p in self.supernet.probs()])
        train_loss = F.cross_entropy(self.supernet(tx), ty)
        grads = torch.autograd.grad(train_loss, weights, allow_unused=True)
        with torch.no_grad():
            for w, g in zip(weights, grads, strict=True):
                g = torch.zeros_like(w) if g is None else g
                buf = self.weight_optimizer.state.get(w, {}).get("momentum_buffer")
                moment = momentum * buf if buf is not None else torch.zeros_like(w)
                w.sub_(xi * (moment + g + wd * w))
        # gradients of L_val at (w', alpha)
        loss = self.val_loss(vx, vy)
        got = torch.autograd.grad(loss, [*alphas, *weights], allow_unused=True)
        d_alpha = [g if g is not None else torch.zeros_like(a) for g, a in zip(got[:len(alphas)],
                                                                               alphas,
                                                                               strict=True)]
        d_w = [g if g is not None else torch.zeros_like(w)
               for g, w in zip(got[len(alphas):], weights, strict=True)]
        with torch.no_grad():
            for w, w0 in zip(weights, original, strict=True):
                w.copy_(w0)
        hessian = self._hessian_vector(d_w, tx, ty)
        for a, da, h in zip(alphas, d_alpha, hessian, strict=True):
            a.grad = da - xi * h
        return loss

    def _hessian_vector(self, vector, x, y) -> list[torch.Tensor]:
        """∇²_{α,w} L_train · v by central differences: (∇_α L(w+εv) − ∇_α L(w−εv)) / 2ε."""
        import torch

        weights = self.supernet.weight_parameters()
        alphas = self.supernet.arch_parameters()
        norm = torch.sqrt(sum((v * v).sum() for v in vector))
        eps = self.hessian_eps / float(norm) if float(norm) > 0 else 0.0
        if eps == 0.0:
            return [torch.zeros_like(a) for a in alphas]
        original = [w.detach().clone() for w in weights]
        out = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for w, w0, v in zip(weights, original, vector, strict=True):
                    w.copy_(w0 + sign * eps * v)
            out.append(torch.autograd.grad(self._train_loss(x, y), alphas))
        with torch.no_grad():  # restored bit for bit, not by adding ±εv back
            for w, w0 in zip(weights, original, strict=True):
                w.copy_(w0)
        return [(gp - gm) / (2 * eps) for gp, gm in zip(out[0], out[1], strict=True)]


@STRATEGIES.register("darts")
class DartsStrategy(OneShotStrategy):
    """DARTS: softmax-weighted mixed ops, α by gradient (1st/2nd order), E[latency] penalty."""

    plot_style = {"color": "#637939", "marker": "p"}

    mechanism = Darts
    # `fast`: at the paper's architecture learning rate α moves about lr per Adam step, and
    # the preset leaves few steps (one architecture step per weight step: about 30 in the
    # preset's 3 search epochs); arch_lr x steps near 1 lets the
    # distribution move (at the paper's rate the largest probability change over a fast sweep
    # was 0.001: the initial argmax in every setting)
    presets = {"fast": {**OneShotStrategy.presets["fast"], "arch_lr": 0.03}}
    option_specs = {
        **COMMON_OPTIONS,
        "order": Option(1, int, choices=(1, 2), help="1: first order; 2: unrolled"),
        "arch_lr": Option(3e-4, float, low=0, low_open=True),
        "arch_weight_decay": Option(1e-3, float, low=0),
        "latency_loss": Option("add_linear", str, choices=LATENCY_LOSSES),
        "lambda": Option(0.1, float, low=0, help="weight of the latency term"),
    }
