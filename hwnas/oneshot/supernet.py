"""The supernet: every candidate of every searchable position in one network.

Built with the space's own skeleton (`space.build_network`), each slot holding a `MixedOp` of
the modules `space.option_module` gives for every option (`zero`/`none` included), so the
network of a derived architecture is exactly `space.build(arch)` and its weights can be copied
out of the supernet (`child_state_dict`). Every instance of a position (an NB201 edge in each
of its cells) shares that position's architecture parameters, as in DARTS's cell search.

How a mixed op combines its candidates is set per step by the method (`Supernet.set_*`):

- `set_weights(ws)`: Σ_j w_j · o_j(x) with one weight vector per position (DARTS's softmax,
  SNAS's and FBNet's Gumbel samples); a candidate whose weight is exactly 0 is still run, so
  its weight gets a gradient.
- `set_paths(paths)`: only the listed candidates run (ProxylessNAS's sampled path(s)); with
  gates, the output is Σ_{j in path} g_j · o_j(x) and each gate's gradient can be read.
- `set_arch(arch)`: one candidate per position, as a plain network (ENAS, SPOS, evaluation).

`weights="entangled"` makes the candidates that nest (kernel 3/5/7, expansion 3/6 of one
position) share one tensor of the largest kernel and expansion (hwnas.oneshot.entangled; the
plug-ins' `supernet_weights` option, hwnas.oneshot.weight_options, chooses it by default); the
constructor's own default, `separate`, is one weight per candidate, as before. Either way a
derived network is `space.build(arch)` and `child_state_dict` gives its weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from hwnas.arch import Arch
from hwnas.oneshot.entangled import EntangledCandidate, entangle
from hwnas.oneshot.weight_options import WEIGHT_MODES
from hwnas.spaces.base import SearchSpace


class MixedOp(nn.Module):
    """The candidates of one position at one place in the network."""

    def __init__(self, candidates: Sequence[nn.Module], position: int,
                 shared: Sequence[nn.Module] = ()):
        super().__init__()
        self.candidates = nn.ModuleList(candidates)
        # entangled candidates' weights (hwnas.oneshot.entangled); empty with separate weights
        self.shared = nn.ModuleList(shared)
        self.position = position
        self.mode = "arch"  # "weights" | "paths" | "arch"
        self.weights: torch.Tensor | None = None
        self.paths: list[int] = [0]
        self.gates: torch.Tensor | None = None
        self.gate_hook = None  # ProxylessNAS installs its binary-gate function here

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "weights":
            out = None
            for w, op in zip(self.weights, self.candidates, strict=True):
                term = w * op(x)
                out = term if out is None else out + term
            return out
        if self.gate_hook is not None and self.gates is not None:
            return self.gate_hook(self, x)
        if self.gates is not None:
            out = None
            for g, j in zip(self.gates, self.paths, strict=True):
                term = g * self.candidates[j](x)
                out = term if out is None else out + term
            return out
        if len(self.paths) != 1:
            raise RuntimeError("a mixed op without gates runs exactly one path")
        return self.candidates[self.paths[0]](x)


class Supernet(nn.Module):
    """The network of all candidates, with the architecture parameters α kept apart from the
    weights (`alphas`, one vector of logits per position, initialised to zero)."""

    def __init__(self, space: SearchSpace, weights: str = "separate",
                 kernel_transform: bool = False):
        super().__init__()
        if weights not in WEIGHT_MODES:
            raise ValueError(f"weights must be one of {', '.join(WEIGHT_MODES)}; got {weights!r}")
        self.space = space
        self.weights_mode = weights
        self.positions = space.positions()
        self.mixed: list[list[MixedOp]] = [[] for _ in self.positions]

        def slot(p: int, instance: int) -> MixedOp:
            position = self.positions[p]
            modules = [space.option_module(position, option, instance)
                       for option in position.options]
            shared: list[nn.Module] = []
            if weights == "entangled":
                modules, shared = entangle(position, instance, modules, kernel_transform)
            op = MixedOp(modules, p, shared)
            self.mixed[p].append(op)
            return op

        self.net = space.build_network(slot)
        self.alphas = nn.ParameterList(
            nn.Parameter(torch.zeros(len(p.options))) for p in self.positions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    # -- parameters -------------------------------------------------------------------------
    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.net.parameters())

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.alphas)

    def probs(self) -> list[torch.Tensor]:
        """p = softmax(α) per position."""
        return [torch.softmax(a, dim=-1) for a in self.alphas]

    # -- how the mixed ops run --------------------------------------------------------------
    def _each(self):
        for p, ops in enumerate(self.mixed):
            for op in ops:
                yield p, op

    def set_weights(self, weights: Sequence[torch.Tensor]) -> None:
        for p, op in self._each():
            op.mode, op.weights, op.gates = "weights", weights[p], None

    def set_paths(self, paths: Sequence[Sequence[int]],
                  gates: Sequence[torch.Tensor] | None = None) -> None:
        for p, op in self._each():
            op.mode, op.paths, op.weights = "paths", list(paths[p]), None
            op.gates = None if gates is None else gates[p]

    def set_arch(self, arch: Arch) -> None:
        self.set_paths([[j] for j in self.indices(arch)])

    # -- architectures ----------------------------------------------------------------------
    def indices(self, arch: Arch) -> list[int]:
        """The option index each position takes in `arch` (the space maps its choices to its
        positions where the two differ: a DARTS genotype leaves its unused edges `none`)."""
        values = self.space.position_values(arch, self.positions)
        return [p.options.index(v) for p, v in zip(self.positions, values, strict=True)]

    def arch_of(self, indices: Sequence[int]) -> Arch:
        """The architecture of one option per position: itself where positions are the
        space's choices, else what the space derives from that one-hot choice."""
        one_hot = []
        for p, j in zip(self.positions, indices, strict=True):
            v = [0.0] * len(p.options)
            v[int(j)] = 1.0
            one_hot.append(v)
        return self.space.arch_from_positions(one_hot, self.positions)

    def child_state_dict(self, arch: Arch) -> dict[str, torch.Tensor]:
        """The weights of `space.build(arch)` taken from the supernet: each mixed op's chosen
        candidate in its place (an entangled one's weights sliced from the shared tensors),
        everything else as it is, keyed as the child's state dict."""
        chosen = self.indices(arch)
        mapped: dict[str, torch.Tensor] = {}
        inside: list[str] = []  # prefixes of the mixed ops: their keys come from the chosen
        for name, module in self.net.named_modules():
            if isinstance(module, MixedOp):
                inside.append(f"{name}.")
                candidate = module.candidates[chosen[module.position]]
                state = (candidate.standalone_state_dict()
                         if isinstance(candidate, EntangledCandidate) else candidate.state_dict())
                mapped.update({f"{name}.{key}": value for key, value in state.items()})
        prefixes = tuple(inside)
        for key, value in self.net.state_dict().items():
            if not key.startswith(prefixes):
                mapped[key] = value
        wanted = self.space.build(arch).state_dict()
        missing = sorted(set(wanted) - set(mapped))
        if missing:  # a space whose skeleton differs from its build(): a bug, say where
            raise RuntimeError(f"supernet has no weights for {missing[:3]} of {arch}")
        # A child's edge that cannot reach the output is built as `none` and has no weights;
        # the supernet's chosen candidate there does, and is left out.
        return {k: mapped[k].detach().clone() for k in wanted}

    def child(self, arch: Arch) -> nn.Module:
        """`space.build(arch)` holding the supernet's weights of that path."""
        model = self.space.build(arch)
        model.load_state_dict(self.child_state_dict(arch))
        return model
