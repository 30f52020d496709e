"""`proxyless`: ProxylessNAS (Cai, Zhu & Han, ICLR 2019), path-level binarisation, one path in
memory, with the table's expected latency in the loss.

- weight steps: one option per position drawn from p = softmax(α) (every instance of a
  position runs the same one), the others not run; cross-entropy, weights only;
- architecture steps (`mode`), on held-out batches, one per `arch_every` weight steps:
  - `two` (the paper's): two options drawn from p without replacement, gated; one of them open,
    drawn from the pair's 2-way softmax. After Adam the pair's logits are shifted together so
    that Σ exp over the pair, hence every other option's probability, is as before the step;
  - `full`: every option gated, the open one drawn from p;
  - `reinforce`: `n_samples` architectures drawn from p, each scored on the batch with its
    single path; α follows Σ (R − b) ∇ log p(arch), b a moving average (decay 0.99).
- binary gates: only the open path runs in the graph (`BinaryGate`); the gradient of gate j
  is ∂L/∂g_j = <∂L/∂out, o_j(x)>, a closed gate's o_j(x) recomputed without storing its
  activations, and ∂L/∂α_i = Σ_j ∂L/∂g_j p_j (δ_ij − p_i) with p over the gated set; a
  position whose open option is `zero` (the layer removed) keeps its α in that step, as the
  authors' code does;
- the loss: CE with the latency term (`latency_loss`: `mul_log` CE·0.2·(log E/log T)^β or
  `add_linear` CE + λ(E − T)/T, knob `lambda`), E[lat] the table's expectation under the gated
  set's probabilities (the pair's 2-way softmax in `two`, so its gradient too reaches only the
  pair, p itself in `full`);
- the REINFORCE reward: ACC·(LAT/T)^w with w = `reward_w` (−0.07, MnasNet's form of the
  authors' ACC·(T/LAT)^0.1), ACC alone without a table;
- α: Adam (lr `arch_lr` 1e-3, betas (0, 0.999), eps 1e-8): with no first moment, a logit whose
  gradient is zero does not move.

Derivation is the trainer's argmax of p per position.

The strategy (options, registration) and its mechanism (`ProxylessNAS`, the steps) are both
here; torch is imported inside the steps (and `BinaryGate` built on first use), so listing
strategies loads none.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from hwnas.limits import MAX_POPULATION
from hwnas.oneshot.losses import LATENCY_LOSSES
from hwnas.oneshot.method import OneShotMethod
from hwnas.options import Option
from hwnas.registry import STRATEGIES
from hwnas.strategies.oneshot import COMMON_OPTIONS, OneShotStrategy

if TYPE_CHECKING:
    import torch

    from hwnas.oneshot.supernet import MixedOp

MODES = ("two", "full", "reinforce")
ADAM_BETAS = (0.0, 0.999)
ADAM_EPS = 1e-8
BASELINE_DECAY = 0.99
# Options that remove the layer (proxyless `zero`) or zero the edge (nb201 `none`): the
# reference's ZeroLayer, whose steps leave α alone (`_gate_step`). An identity (`skip`) is not.
ZERO_OPTIONS = ("zero", "none")


@cache
def _binary_gate_function():
    """The `BinaryGate` autograd function, built on first use: subclassing a torch class
    imports torch, which listing strategies must not."""
    import torch

    class BinaryGate(torch.autograd.Function):
        """A mixed op under binary gates: out = o_a(x) for the open gate a of `op.gates`."""

        @staticmethod
        def forward(ctx, x: torch.Tensor, gates: torch.Tensor, op: MixedOp) -> torch.Tensor:
            paths = list(op.paths)
            active = paths[int(torch.argmax(gates.detach()))]
            inp = x.detach().requires_grad_(x.requires_grad)
            # The open path's own graph, kept for the input gradient; the outer graph sees
            # one node.
            with torch.enable_grad():
                out = op.candidates[active](inp)
            ctx.save_for_backward(inp, out)
            ctx.op, ctx.paths, ctx.active, ctx.gate_dtype = op, paths, active, gates.dtype
            return out.detach()

        @staticmethod
        def backward(ctx, grad_out: torch.Tensor):
            inp, out = ctx.saved_tensors
            grad_x = grad_gates = None
            if ctx.needs_input_grad[0] and out.requires_grad:
                (grad_x,) = torch.autograd.grad(out, inp, grad_out)
            if ctx.needs_input_grad[1]:
                grad_gates = gate_gradients(ctx.op, ctx.paths, ctx.active, inp.detach(),
                                            out.detach(), grad_out).to(ctx.gate_dtype)
            return grad_x, grad_gates, None

    return BinaryGate


def gate_gradients(op: MixedOp, paths: list[int], active: int, x: torch.Tensor,
                   out: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """<∂L/∂out, o_j(x)> for each j in `paths`; the closed paths run without a graph."""
    import torch

    values = []
    with torch.no_grad():
        for j in paths:
            o = out if j == active else op.candidates[j](x)
            values.append((o * grad_out).sum())
    return torch.stack(values)


def binary_gate(op: MixedOp, x: torch.Tensor) -> torch.Tensor:
    """`MixedOp.gate_hook`: the op's candidates under its gates, through `BinaryGate`."""
    return _binary_gate_function().apply(x, op.gates, op)


class Gated(NamedTuple):
    """One sampled gated set per position: the options gated and the open one."""

    paths: list[list[int]]
    active: list[int]


class GateResult(NamedTuple):
    loss: torch.Tensor
    ce: torch.Tensor
    cost: torch.Tensor | None
    gate_grads: list[torch.Tensor]  # ∂L/∂g per position, in the order of its gated set
    alpha_grads: list[torch.Tensor]  # ∂L/∂α per position


class ProxylessNAS(OneShotMethod):
    """ProxylessNAS's weight steps and its two kinds of architecture step (the module
    docstring)."""

    arch_every = 5

    def __init__(self, *args, **kwargs):
        import torch

        super().__init__(*args, **kwargs)
        self.mode = self.options["mode"]
        self.arch_optimizer = torch.optim.Adam(
            self.supernet.arch_parameters(), lr=self.options["arch_lr"], betas=ADAM_BETAS,
            eps=ADAM_EPS)
        self.baseline: float | None = None
        self.last: dict = {}  # what the last architecture step drew and scored
        for ops in self.supernet.mixed:
            for op in ops:
                op.gate_hook = binary_gate

    # -- sampling ---------------------------------------------------------------------------
    def _draw(self, probs: torch.Tensor, n: int = 1) -> list[int]:
        import torch

        # on the CPU, where the trainer's generator lives
        return torch.multinomial(probs.detach().cpu(), n, replacement=False,
                                 generator=self.generator).tolist()

    def sample_paths(self) -> list[int]:
        """One option per position drawn from p."""
        return [self._draw(p)[0] for p in self.supernet.probs()]

    def sample_gates(self) -> Gated:
        """Per position the gated options and the open one, as `mode` draws them."""
        import torch

        paths, active = [], []
        for a in self.supernet.alphas:
            a = a.detach().cpu()
            if self.mode == "two" and len(a) > 1:
                pair = self._draw(torch.softmax(a, 0), 2)
                paths.append(pair)
                active.append(pair[self._draw(torch.softmax(a[pair], 0))[0]])
            else:
                paths.append(list(range(len(a))))
                active.append(self._draw(torch.softmax(a, 0))[0])
        return Gated(paths, active)

    def gated_probs(self, gated: Gated) -> list[torch.Tensor]:
        """Per position the softmax of the gated logits, placed in a vector over all options
        (zero elsewhere); differentiable in α."""
        import torch

        out = []
        for a, paths in zip(self.supernet.alphas, gated.paths, strict=True):
            idx = torch.tensor(paths, device=a.device)
            out.append(torch.zeros_like(a).scatter(0, idx, torch.softmax(a[idx], 0)))
        return out

    # -- weight step ------------------------------------------------------------------------
    def weight_step(self, x, y) -> dict:
        import torch.nn.functional as F

        self.supernet.set_paths([[j] for j in self.sample_paths()])
        logits = self.supernet(x)
        loss = F.cross_entropy(logits, y)
        self.step_weights(loss)
        return {"loss": float(loss.detach()), "correct": int((logits.argmax(1) == y).sum())}

    # -- architecture step: binary gates ----------------------------------------------------
    def gradients(self, x, y, gated: Gated) -> GateResult:
        """The loss under `gated` and its gradients: the gates' and α's (the latency term's
        own gradient plus Σ_j ∂L/∂g_j p_j(δ_ij − p_i) over each gated set)."""
        import torch
        import torch.nn.functional as F

        alphas = self.supernet.arch_parameters()
        gates = []
        for a, paths, active in zip(alphas, gated.paths, gated.active, strict=True):
            g = torch.zeros(len(paths), dtype=a.dtype, device=a.device)
            g[paths.index(active)] = 1.0
            gates.append(g.requires_grad_())
        self.supernet.set_paths(gated.paths, gates)
        logits = self.supernet(x)
        cost = self.expected_cost(self.gated_probs(gated))
        ce = F.cross_entropy(logits, y)
        loss = self.loss(logits, y, cost)
        found = torch.autograd.grad(loss, [*gates, *alphas], allow_unused=True)
        gate_grads = [torch.zeros_like(g) if d is None else d
                      for g, d in zip(gates, found[:len(gates)], strict=True)]
        alpha_grads = []
        for a, paths, gg, lat in zip(alphas, gated.paths, gate_grads, found[len(gates):],
                                     strict=True):
            grad = torch.zeros_like(a) if lat is None else lat.detach().clone()
            idx = torch.tensor(paths, device=a.device)
            p = torch.softmax(a.detach()[idx], 0)
            grad[idx] += p * (gg - (p * gg).sum())
            alpha_grads.append(grad)
        return GateResult(loss.detach(), ce.detach(), None if cost is None else cost.detach(),
                          gate_grads, alpha_grads)

    def rescale(self, gated: Gated, before: list[torch.Tensor]) -> None:
        """Shift each pair's logits by log(Σ exp(new) / Σ exp(old)) down, so the options
        outside the pair keep their probabilities."""
        import torch

        with torch.no_grad():
            for a, paths, old in zip(self.supernet.alphas, gated.paths, before, strict=True):
                idx = torch.tensor(paths, device=a.device)
                offset = torch.logsumexp(a[idx], 0) - torch.logsumexp(old, 0)
                a[idx] = a[idx] - offset

    def opened_zero(self, gated: Gated) -> list[bool]:
        """Per position: is the open option the zero layer (`ZERO_OPTIONS`)?"""
        return [p.options[j] in ZERO_OPTIONS
                for p, j in zip(self.supernet.positions, gated.active, strict=True)]

    def _gate_step(self, x, y) -> dict:
        import torch

        gated = self.sample_gates()
        before = [a.detach()[torch.tensor(p, device=a.device)].clone()
                  for a, p in zip(self.supernet.alphas, gated.paths, strict=True)]
        result = self.gradients(x, y, gated)
        skipped = self.opened_zero(gated)
        self.arch_optimizer.zero_grad(set_to_none=True)
        for a, g, skip in zip(self.supernet.arch_parameters(), result.alpha_grads, skipped,
                              strict=True):
            # The authors' code (MixedEdge.set_arch_param_grad) sets α's gradient to None at
            # a position whose open gate is the zero layer, latency term included: Adam then
            # leaves that position's α and its moments as they were for this step.
            a.grad = None if skip else g
        self.arch_optimizer.step()
        if self.mode == "two":
            self.rescale(gated, before)  # an untouched pair's offset is exactly 0
        self.last = {"gated": gated, "gate_grads": result.gate_grads, "skipped": skipped}
        return {"loss": float(result.loss), "ce": float(result.ce),
                "expected_cost": None if result.cost is None else float(result.cost)}

    # -- architecture step: REINFORCE -------------------------------------------------------
    def reward(self, x, y, indices: list[int]) -> float:
        """ACC·(LAT/T)^w of one architecture on the batch, ACC alone without table or T."""
        import torch

        self.supernet.set_paths([[j] for j in indices])
        with torch.no_grad():
            acc = float((self.supernet(x).argmax(1) == y).float().mean())
        if self.cost is None or self.target is None:
            return acc
        latency = self.cost.of_arch(self.supernet.arch_of(indices))
        return acc * (latency / self.target) ** self.options["reward_w"]

    def _reinforce_step(self, x, y) -> dict:
        import torch

        samples = [self.sample_paths() for _ in range(self.options["n_samples"])]
        rewards = [self.reward(x, y, s) for s in samples]
        mean = sum(rewards) / len(rewards)
        # updated before the advantages, as the authors do; the first step starts it at R̄
        self.baseline = mean if self.baseline is None else (
            BASELINE_DECAY * self.baseline + (1 - BASELINE_DECAY) * mean)
        alphas = self.supernet.arch_parameters()
        log_probs = [torch.log_softmax(a, 0) for a in alphas]
        objective = sum((r - self.baseline) * sum(lp[j] for lp, j in zip(log_probs, s,
                                                                         strict=True))
                        for r, s in zip(rewards, samples, strict=True)) / len(samples)
        self.arch_optimizer.zero_grad(set_to_none=True)
        for a, g in zip(alphas, torch.autograd.grad(-objective, alphas), strict=True):
            a.grad = g
        self.arch_optimizer.step()
        self.last = {"samples": samples, "rewards": rewards}
        # the trainer logs "loss": here the negative mean reward (lower is better)
        return {"loss": -mean, "reward": mean, "baseline": self.baseline}

    # -- hooks ------------------------------------------------------------------------------
    def arch_step(self, x, y) -> dict:
        if self.mode == "reinforce":
            return self._reinforce_step(x, y)
        return self._gate_step(x, y)

    def log(self) -> dict:
        return {"baseline": self.baseline} if self.mode == "reinforce" else {}


@STRATEGIES.register("proxyless")
class ProxylessNASStrategy(OneShotStrategy):
    """ProxylessNAS: one sampled path per step, α by binary-gate gradients or REINFORCE."""

    plot_style = {"color": "#17becf", "marker": "*"}

    mechanism = ProxylessNAS
    # `fast`: at the paper's architecture learning rate α moves about lr per Adam step, and
    # the preset leaves few steps (one architecture step per 5 weight steps: 6 in the preset's
    # 3 search epochs); arch_lr x steps near 1 lets the
    # distribution move (at the paper's rate the largest probability change over a fast sweep
    # was 0.001: the initial argmax in every setting)
    presets = {"fast": {**OneShotStrategy.presets["fast"], "arch_lr": 0.1}}
    option_specs = {
        **COMMON_OPTIONS,
        "mode": Option("two", str, choices=MODES,
                       help="two: gates on two sampled paths; full: on all; reinforce: policy "
                            "gradient"),
        "arch_lr": Option(1e-3, float, low=0, low_open=True, help="Adam, betas (0, 0.999)"),
        "latency_loss": Option("mul_log", str, choices=LATENCY_LOSSES),
        "lambda": Option(0.3, float, low=0,
                         help="β of mul_log, λ of add_linear (gradient modes)"),
        "n_samples": Option(4, int, low=1, high=MAX_POPULATION,
                            help="architectures per REINFORCE step"),
        "reward_w": Option(-0.07, float, high=0,
                           help="REINFORCE reward ACC·(LAT/T)^w"),
    }
