"""`single_path_nas`: Single-Path NAS (Stamoulis et al., ECML-PKDD 2019, "Designing
Hardware-Efficient ConvNets in less than 4 Hours"): one superkernel per layer, the kernel size
and expansion picked by trainable thresholds on the norms of its parts, the table's runtime a
differentiable term of the loss.

- the supernet: the entangled one (`supernet_weights=entangled`, hwnas.oneshot.entangled),
  each layer run as its largest block with the superkernel's masked weights
  (hwnas.oneshot.superkernel: the nesting of kernels 3 ⊂ 5 ⊂ 7 and expansions e3 ⊂ e6, the
  layer skipped when the first channel group fails its threshold, where `zero` is an option);
- the indicators: 1(‖w‖ − t ≥ 0) forward, σ's gradient backward (the reference code's
  straight-through indicator);
- one loss, CE(w | t) + λ · 1e3 · log R(w | t), R the nested runtime of the layers' indicators
  with the table's entries plus the fixed layers (in the table's unit; equal to the decided
  network's cost in the forward pass). The reference code's `runtime_lambda * 1e3 * log(R)`:
  `lambda` is its `runtime_lambda_val` (0.020 in the authors' README) and the log makes it
  independent of the table's unit. The paper's loss has no target: log(R/T) has the gradient
  of log R, so `target_ms` is the derivation's limit only (as FBNet's);
- w and t trained jointly on the same training batches, as the reference (one optimiser
  minimising one loss): the weights by the trainer's SGD, t by TF's RMSProp (the reference's
  optimiser: decay 0.9, momentum 0.9, ε 1e-3, mean square starting at 1) at `arch_lr`, kept
  constant (the reference decays every variable's rate together). The reference's weight
  decay also reaches t (1e-5); here it does not. No held-out architecture steps: the
  trainer's held-out split only scores the decided network each epoch;
- the warm-up epochs: the loss is CE alone and each indicator is kept with probability
  `indicator_keep` (0.6) and scaled by its inverse, the reference's dropout on the indicators
  during its warm-up (λ = 0 there too); after it, no dropout;
- t starts at `threshold_init` (0, the reference's), so every indicator starts on: the
  largest network, every layer kept.

Derivation: the paper's hard rule, each indicator on where ‖w‖ ≥ t, nested. The trainer reads
it as a distribution per layer (`SinglePathNAS.distribution`): each option's probability is
that of the most probable setting of the indicators that picks it, each indicator on with
probability σ(‖w‖ − t); its argmax is the hard rule, and the target repair
(hwnas.oneshot.derive) takes the most probable architecture within the limit under it.

The strategy (options, registration) and its mechanism (`SinglePathNAS`, the steps) are both
here; torch is imported inside the steps and by hwnas.oneshot.superkernel, loaded when a
supernet trains (or the strategy checks its space), never by `hwnas list`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from hwnas.errors import BadInputError
from hwnas.oneshot.losses import positive_floor
from hwnas.oneshot.method import OneShotMethod
from hwnas.options import Option, option_error
from hwnas.registry import STRATEGIES
from hwnas.strategies.oneshot import COMMON_OPTIONS, OneShotStrategy

if TYPE_CHECKING:
    import torch

RUNTIME_SCALE = 1e3  # the reference's `runtime_lambda * 1e3 * log(runtime)`


class SinglePathNAS(OneShotMethod):
    """Single-Path NAS's joint step of weights and thresholds (the module docstring)."""

    # Thresholds step with the weights, on the same batches: never a held-out step.
    arch_every = sys.maxsize

    def __init__(self, *args, **kwargs):
        import torch
        import torch.nn as nn

        from hwnas.oneshot.superkernel import SuperkernelLayer, TFRMSProp, layout_of

        super().__init__(*args, **kwargs)
        supernet = self.supernet
        if supernet.weights_mode != "entangled":
            raise ValueError("Single-Path NAS's superkernel is the entangled supernet "
                             "(supernet_weights=entangled)")
        device = next(supernet.parameters()).device
        self.layouts = [layout_of(p) for p in supernet.positions]
        init = float(self.options["threshold_init"])
        # The thresholds are this method's architecture parameters: the supernet's α slot
        # holds them (one vector per layer, in the order of its Layout.names), so the
        # trainer's snapshot and restore after a divergence apply to them.
        supernet.alphas = nn.ParameterList(
            nn.Parameter(torch.full((len(layout.names),), init, device=device))
            for layout in self.layouts)
        self.layers = []
        for p, (layout, ops) in enumerate(zip(self.layouts, supernet.mixed, strict=True)):
            if len(ops) != 1:
                raise ValueError(f"layer {layout.label} appears {len(ops)} times in the "
                                 "network; a superkernel is one layer")
            op = ops[0]
            layer = SuperkernelLayer(op, layout, supernet.alphas[p])
            layer.generator = self.generator
            # the hook runs when the op has gates: a detached view of the thresholds (a
            # Parameter assigned to a Module attribute would be registered as the op's)
            op.mode, op.paths = "paths", [layout.grid[-1][-1]]
            op.gates = supernet.alphas[p].detach()
            op.gate_hook = layer  # type: ignore[assignment]  # MixedOp declares it None
            self.layers.append(layer)
        self.arch_optimizer = TFRMSProp(supernet.arch_parameters(), self.options["arch_lr"])
        self.floor = None if self.cost is None else positive_floor(*self.cost.range())
        self.last_runtime: float | None = None

    # -- the loss -----------------------------------------------------------------------------
    def runtime(self, relaxed=None) -> torch.Tensor:
        """R: the fixed layers' cost plus each layer's nested runtime under its indicators
        (those of the last forward pass, or `relaxed`, one per layer); a 0-d float64 tensor."""
        import torch

        if self.cost is None:
            raise ValueError("no table: Single-Path NAS's runtime term needs one")
        relaxed = relaxed if relaxed is not None else [layer.last for layer in self.layers]
        terms = [layer.runtime(r.indicators, costs.to(r.depthwise.device))
                 for layer, r, costs in zip(self.layers, relaxed, self.cost.option_costs,
                                            strict=True)]
        const = torch.tensor(self.cost.constant, dtype=torch.float64,
                             device=terms[0].device)
        if self.cost.is_max:  # peak memory: the largest layer's (the fixed ops' as a floor)
            return torch.stack([const, *terms]).max()
        return const + torch.stack(terms).sum()

    def runtime_term(self, relaxed=None) -> torch.Tensor | None:
        """λ · 1e3 · log R, or None without a table or with λ = 0."""
        if self.cost is None or self.lam == 0:
            return None
        runtime = self.runtime(relaxed)
        self.last_runtime = float(runtime.detach())
        assert self.floor is not None  # set whenever there is a cost
        return self.lam * RUNTIME_SCALE * runtime.clamp_min(self.floor).log()

    # -- hooks --------------------------------------------------------------------------------
    def weight_step(self, x, y) -> dict:
        import torch.nn.functional as F

        warm = self.epoch < self.warmup_epochs
        keep = float(self.options["indicator_keep"]) if warm else None
        for layer in self.layers:
            layer.keep_prob = keep
        try:
            logits = self.supernet(x)
        finally:
            for layer in self.layers:
                layer.keep_prob = None
        ce = F.cross_entropy(logits, y)
        term = None if warm else self.runtime_term()
        loss = ce if term is None else ce + term.to(ce.dtype)
        self.weight_optimizer.zero_grad(set_to_none=True)
        self.arch_optimizer.zero_grad()
        loss.backward()
        self.weight_optimizer.step()
        self.arch_optimizer.step()
        return {"loss": float(loss.detach()), "ce": float(ce.detach()),
                "correct": int((logits.argmax(1) == y).sum())}

    def arch_step(self, x, y) -> dict:
        raise RuntimeError("Single-Path NAS steps its thresholds with the weights "
                           "(weight_step); it has no held-out architecture step")

    def decisions(self) -> list[int]:
        """The option index the paper's rule picks at each layer."""
        return [layer.decision() for layer in self.layers]

    def before_child(self) -> None:
        """Each layer's blocks get the superkernel's BatchNorm, so that the decided network
        `Supernet.child` builds is the one the supernet computes."""
        for layer in self.layers:
            layer.share_batchnorm()

    def distribution(self) -> list[torch.Tensor]:
        """Per layer the indicators' max-marginal distribution over its options (the module
        docstring): its argmax is the hard rule."""
        return [layer.max_marginals(len(p.options)).float()
                for layer, p in zip(self.layers, self.supernet.positions, strict=True)]

    def log(self) -> dict:
        """The thresholds and the margins ‖w‖ − t per layer (`Layout.names` order), and the
        decided network's R at the last step of the epoch."""
        out: dict = {
            "thresholds": {layer.layout.label: dict(zip(layer.layout.names,
                                                        [round(float(v), 5) for v in
                                                         layer.thresholds.detach()],
                                                        strict=True))
                           for layer in self.layers},
            "margins": {layer.layout.label: dict(zip(layer.layout.names,
                                                     [round(m, 5) for m in layer.margins()],
                                                     strict=True))
                        for layer in self.layers},
        }
        if self.last_runtime is not None:
            out["runtime"] = self.last_runtime
        return out


@STRATEGIES.register("single_path_nas")
class SinglePathNASStrategy(OneShotStrategy):
    """Single-Path NAS: a superkernel per layer, kernel/expansion by thresholds on its norms."""

    plot_style = {"color": "#17a768", "marker": "X"}

    mechanism = SinglePathNAS
    # `fast`: three search epochs of about ten steps each; TF's RMSProp (mean square starting
    # at 1) moves a threshold by about lr x gradient per step, and at the default rate a
    # fast λ = 0.2 setting on digits moved its thresholds at most 1.1 against norms of 4-14
    # (one layer changed); at 0.1, five (BENCHMARKS.md, "Single-Path NAS on digits")
    presets = {"fast": {**OneShotStrategy.presets["fast"], "arch_lr": 0.1}}
    option_specs = {
        **COMMON_OPTIONS,
        "lambda": Option(0.02, float, low=0,
                         help="λ of CE + λ·1e3·log R (the reference's runtime_lambda_val)"),
        "arch_lr": Option(0.004, float, low=0, low_open=True,
                          help="thresholds: TF RMSProp (decay 0.9, momentum 0.9, eps 1e-3); "
                               "the reference's 0.016 per 256 images at batch 64"),
        "threshold_init": Option(0.0, float,
                                 help="every threshold's start (0: every indicator on)"),
        "indicator_keep": Option(0.6, float, low=0, low_open=True, high=1,
                                 help="warm-up: each indicator kept with this probability "
                                      "(the reference's dropout); 1: none"),
    }

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        super().check_options(resolved)
        if resolved.get("supernet_weights", "entangled") != "entangled":
            raise option_error("supernet_weights", cls.owner(), "'entangled'",
                               resolved["supernet_weights"],
                               "(Single-Path NAS's superkernel is the layer's kernels and "
                               "expansions sharing one tensor)")
        if resolved.get("kernel_transform"):
            raise option_error("kernel_transform", cls.owner(), "False", True,
                               "(the superkernel nests plain crops of one tensor)")

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        from hwnas.oneshot.superkernel import layout_of

        for position in space.positions():  # before the table's expected cost is built
            try:
                layout_of(position)
            except ValueError as err:
                raise BadInputError(
                    f"{self.owner()} searches chains of inverted residuals whose options are "
                    f"every kernel x expansion (plus 'zero'); space {space.name!r}, position "
                    f"{position.label!r}: {err}") from None
        super().__init__(space, objectives, seed, costs, **options)
