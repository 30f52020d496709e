"""`hwnas.choice`: a choice point inside a user's own torch module.

A user writes an ordinary nn.Module (or a function returning one) and puts `choice(...)`
wherever a layer may be one of several candidates; the `module` space
(hwnas/spaces/user_module.py) finds these points by walking the module, and an architecture
fixes each to one candidate. The idea is NNI's LayerChoice; the code is hwnas's own.

Until a space fixes it, a choice point runs its first candidate, so the user's module runs
(and trains, and exports) as written: a quick check that the candidates fit.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn

from hwnas.errors import BadInputError

# Labels and candidate names end up in op keys (`|` and `=` separate fields there) and as
# ModuleDict keys (no `.`), so they are kept to plain words.
_LABEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")


class ChoiceModule(nn.Module):
    """Holds the candidates of one choice point and runs the one `chosen`."""

    def __init__(self, candidates: dict[str, nn.Module], label: str):
        super().__init__()
        self.label = label
        self.candidates = nn.ModuleDict(candidates)
        self.chosen = next(iter(candidates))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.candidates.keys())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.candidates[self.chosen](x)

    def extra_repr(self) -> str:
        return f"label={self.label!r}, chosen={self.chosen!r}"


def choice(candidates: dict[str, nn.Module] | list | tuple, label: str) -> ChoiceModule:
    """A module that runs one of `candidates` (a dict name -> module, or a list: names "0",
    "1", ...); `label` names the choice in architectures and latency tables and must be unique
    in the network. A candidate that is `nn.Identity()` runs no op (a layer that may be
    skipped, ProxylessNAS's `zero`)."""
    if not isinstance(label, str) or not _LABEL.match(label):
        raise BadInputError(f"hwnas.choice label must be a word of letters, digits, '_', '-' "
                            f"or '.'; got {label!r}")
    if isinstance(candidates, (list, tuple)):
        candidates = {str(i): m for i, m in enumerate(candidates)}
    if not isinstance(candidates, dict) or not candidates:
        raise BadInputError(f"hwnas.choice {label!r}: candidates must be a non-empty dict of "
                            f"name -> nn.Module or a list of modules; got "
                            f"{type(candidates).__name__}")
    for name, module in candidates.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise BadInputError(f"hwnas.choice {label!r}: candidate name {name!r} must be a "
                                "word of letters, digits, '_' or '-'")
        if not isinstance(module, nn.Module):
            raise BadInputError(f"hwnas.choice {label!r}: candidate {name!r} is a "
                                f"{type(module).__name__}, not an nn.Module")
        if any(isinstance(m, ChoiceModule) for m in module.modules()):
            raise BadInputError(f"hwnas.choice {label!r}: candidate {name!r} holds another "
                                "choice point; choice points cannot be nested")
    return ChoiceModule(dict(candidates), label)


def example_network(num_classes: int = 10, in_channels: int = 3) -> nn.Module:
    """The `module` space's default: a stem, two MBConv choice points and a head, small
    enough for the conformance tests. examples/spaces/mbconv_choices.py is the user-side
    version (a whole ProxylessNAS chain written with `hwnas.choice`)."""
    from hwnas.ops import OpSignature
    from hwnas.spaces.modules.mbconv import build_mbconv_op

    def mb(cin: int, cout: int, k: int, s: int, e: int) -> nn.Module:
        return build_mbconv_op(OpSignature("mbconv", cin, cout, 8, 8, kernel=k, stride=s,
                                           expand=e))

    return nn.Sequential(
        build_mbconv_op(OpSignature("stem", in_channels, 8, 8, 8, kernel=3)),
        choice({"k3": mb(8, 16, 3, 2, 3), "k5": mb(8, 16, 5, 2, 3)}, "b0"),
        choice({"k3": mb(16, 16, 3, 1, 3), "k5": mb(16, 16, 5, 1, 6),
                "zero": nn.Identity()}, "b1"),
        build_mbconv_op(OpSignature("head", 16, 32, 4, 4, classes=num_classes)),
    )
