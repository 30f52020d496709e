"""Entangled candidate weights: the `weights=entangled` option (hwnas.oneshot.weight_options).

Why: in a single-path supernet whose candidates own their weights, each candidate trains on a
fraction of the steps, and the layers after a position must serve every candidate's unrelated
output channels at once; on digits such a supernet stays near chance for hundreds of steps
(BENCHMARKS.md). When candidates nest (the smaller kernel is the centre of the larger, the
smaller expansion the first channels of the larger: once-for-all's elastic kernel and width,
Single-Path NAS's superkernel) every step trains the shared part, and all candidates' output
channels mean the same thing.

Per instance of a position:

- the candidates are grouped into families that nest: the same op type (`NESTABLE_OPS`) with
  the same channels in and out, stride, input size and groups, whose module is an inverted
  residual (optional 1x1 expand, kxk depthwise, 1x1 project: `block_convs`). A family of one
  and every other option (`zero`, `skip`, cell ops) keep the module the space builds;
- one `SharedBlockWeights` per family holds the expand, depthwise and project weights of the
  family's largest expansion and largest kernel; the MixedOp owns it;
- each member is an `EntangledCandidate`: the space's own module for that option (its
  BatchNorm layers, activations, shuffle and residual exactly the standalone op's, BatchNorm
  therefore per candidate) with its three conv weights removed; each forward sets them to
  slices of the shared tensors: expand[:h], depthwise[:h] centre k x k, project[:, :h], with h
  the candidate's hidden width and k its kernel;
- `kernel_transform`: the depthwise kernel is cut one kernel size at a time (7 -> 5 -> 3), each
  cut followed by a learned linear map of the k*k taps shared by all channels, the identity at
  first (once-for-all's kernel transformation matrices); without it a cut is a plain crop.

Gradients: a step through any member writes the shared tensors' gradient, zero outside that
member's slice; weight decay and momentum then move the whole tensor, as once-for-all's
optimiser steps every parameter. A mixed op that runs several members in one forward (DARTS,
FBNet, SNAS, ProxylessNAS's gates) reads one storage several times and autograd adds the
gradients: that is what sharing means.

A derived network is still `space.build(arch)`: `EntangledCandidate.standalone_state_dict()`
gives the weights keyed as the standalone op's (hwnas.oneshot.supernet.Supernet.child).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from hwnas.spaces.base import Position

# Ops whose modules are inverted residuals in every space that builds them (hwnas.spaces.modules)
NESTABLE_OPS = frozenset({"mbconv", "fb_block"})


class BlockConvs(NamedTuple):
    """The convolutions of an inverted residual, in forward order (`expand` None where the
    block has no expansion conv)."""

    expand: nn.Conv2d | None
    depthwise: nn.Conv2d
    project: nn.Conv2d


def block_convs(module: nn.Module) -> BlockConvs | None:
    """The expand, depthwise and project convs of `module`, or None when it is not an inverted
    residual those three (or two) bias-free convs describe."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) not in (2, 3) or any(c.bias is not None for c in convs):
        return None
    expand = convs[0] if len(convs) == 3 else None
    depthwise, project = convs[-2], convs[-1]
    hidden = depthwise.out_channels
    k = depthwise.kernel_size
    if not (depthwise.groups == depthwise.in_channels == hidden and k[0] == k[1] and k[0] % 2
            and project.in_channels == hidden and project.kernel_size == (1, 1)):
        return None
    if expand is not None and not (expand.out_channels == hidden and expand.kernel_size == (1, 1)
                                   and expand.groups == project.groups):
        return None
    return BlockConvs(expand, depthwise, project)


def family_key(sig, convs: BlockConvs) -> tuple:
    """Candidates with equal keys nest: they differ only in kernel and expansion."""
    key = (sig.op, sig.cin, sig.cout, sig.stride, sig.h, sig.w, sig.extra,
           convs.expand is not None, convs.project.groups)
    if convs.project.groups > 1:  # a grouped 1x1 conv does not nest by channel prefix
        key += (convs.depthwise.out_channels,)
    return key


class SharedBlockWeights(nn.Module):
    """One family's weights: its largest expansion (`hidden` channels) and largest kernel."""

    def __init__(self, template: BlockConvs, hidden: int, kernels: Sequence[int],
                 kernel_transform: bool):
        super().__init__()
        self.kernels = tuple(sorted(set(kernels)))
        self.groups = template.project.groups
        largest = self.kernels[-1]

        def conv_weight(*shape: int) -> nn.Parameter:
            weight = torch.empty(*shape)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))  # nn.Conv2d's own initialisation
            return nn.Parameter(weight)

        if template.expand is None:
            self.register_parameter("expand", None)
        else:
            self.expand = conv_weight(hidden, template.expand.in_channels // self.groups, 1, 1)
        self.depthwise = conv_weight(hidden, 1, largest, largest)
        self.project = conv_weight(template.project.out_channels, hidden // self.groups, 1, 1)
        self.transforms = nn.ParameterDict()
        if kernel_transform:
            for big, small in zip(self.kernels[:0:-1], self.kernels[-2::-1], strict=True):
                self.transforms[f"{big}to{small}"] = nn.Parameter(torch.eye(small * small))

    def depthwise_kernel(self, hidden: int, kernel: int) -> torch.Tensor:
        """The first `hidden` channels' kernel cut to kernel x kernel from the centre, one
        kernel size at a time, each cut through its transform when there are transforms."""
        weight = self.depthwise[:hidden]
        size = self.kernels[-1]
        for small in self.kernels[-2::-1]:
            if small < kernel:
                break
            start = (size - small) // 2
            weight = weight[:, :, start:start + small, start:start + small]
            if self.transforms:
                matrix = self.transforms[f"{size}to{small}"]
                weight = F.linear(weight.reshape(hidden, small * small), matrix)
                weight = weight.reshape(hidden, 1, small, small)
            size = small
        return weight

    def slices(self, hidden: int, kernel: int) -> list[torch.Tensor | None]:
        """[expand, depthwise, project] weights of the member with `hidden` channels and
        `kernel` (expand None for a block without one)."""
        expand = None if self.expand is None else self.expand[:hidden]
        return [expand, self.depthwise_kernel(hidden, kernel),
                self.project[:, :hidden // self.groups]]


class EntangledCandidate(nn.Module):
    """The space's module for one option, its conv weights read from the family's shared
    tensors at every forward (the module docstring)."""

    def __init__(self, module: nn.Module, convs: BlockConvs, shared: SharedBlockWeights):
        super().__init__()
        self.module = module
        # Plain tuples: the convs are registered inside `module` already, and the shared
        # weights belong to the MixedOp (registering them here too would list them once per
        # member in state dicts).
        self._convs = tuple(convs)
        self._shared = (shared,)
        names = {id(m): name for name, m in module.named_modules()}
        self._keys = tuple(None if c is None else f"{names[id(c)]}.weight" for c in convs)
        self.hidden = convs.depthwise.out_channels
        self.kernel = convs.depthwise.kernel_size[0]
        for conv in convs:
            if conv is not None:
                del conv.weight  # set per forward from the shared tensors

    @property
    def shared(self) -> SharedBlockWeights:
        return self._shared[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convs = [c for c in self._convs if c is not None]
        weights = [w for w in self.shared.slices(self.hidden, self.kernel) if w is not None]
        for conv, weight in zip(convs, weights, strict=True):
            conv.weight = weight  # a plain attribute (not a Parameter) that nn.Conv2d reads
        try:
            return self.module(x)
        finally:  # no tensor of this graph kept on the module between forwards
            for conv in convs:
                del conv.weight

    def standalone_state_dict(self) -> dict[str, torch.Tensor]:
        """The state dict of the standalone op (`space.build_op(sig)`) holding these weights:
        the module's own BatchNorm entries and the conv weights sliced from the shared ones."""
        state = dict(self.module.state_dict())
        with torch.no_grad():
            for key, weight in zip(self._keys, self.shared.slices(self.hidden, self.kernel),
                                   strict=True):
                if key is not None:
                    state[key] = weight.detach()
        return state


def entangle(position: Position, instance: int, modules: Sequence[nn.Module],
             kernel_transform: bool) -> tuple[list[nn.Module], list[SharedBlockWeights]]:
    """`modules` (one per option of `position`, as the space builds them for `instance`) with
    every nesting family's members made `EntangledCandidate`s of one `SharedBlockWeights`;
    returns the candidates in option order and the shared weights their MixedOp must own."""
    families: dict[tuple, list[int]] = {}
    convs_of: dict[int, BlockConvs] = {}
    for j, (option, module) in enumerate(zip(position.options, modules, strict=True)):
        sigs = position.ops[option]
        if not sigs or sigs[instance].op not in NESTABLE_OPS:
            continue
        convs = block_convs(module)
        if convs is None:  # not built as an inverted residual: it keeps its own weights
            continue
        convs_of[j] = convs
        families.setdefault(family_key(sigs[instance], convs), []).append(j)
    candidates, shared = list(modules), []
    for members in families.values():
        if len(members) < 2:
            continue
        hidden = max(convs_of[j].depthwise.out_channels for j in members)
        kernels = [convs_of[j].depthwise.kernel_size[0] for j in members]
        store = SharedBlockWeights(convs_of[members[0]], hidden, kernels, kernel_transform)
        shared.append(store)
        for j in members:
            candidates[j] = EntangledCandidate(modules[j], convs_of[j], store)
    return candidates, shared
