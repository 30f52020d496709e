"""What the `module` space learns from a user's module: its choice points, the parts around
them, and the shapes each sees in one forward pass.

A network is split into priced parts by walking it from the top: a child that is a choice
point is one; a child holding a choice point somewhere inside is walked into; any other child
is one fixed part, priced whole (`user_fixed`). Code in the `forward` of a module that holds
choice points (an `x + y`, a `torch.flatten`) belongs to no part and is not priced.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from hwnas.errors import BadInputError
from hwnas.spaces.modules.choice import ChoiceModule


@dataclass(frozen=True)
class Call:
    """One priced part run once in the traced forward pass, in the order it ran."""

    kind: str  # "fixed" or "choice"
    name: str  # the fixed part's module path, or the choice point's label
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


def split(model: nn.Module) -> tuple[list[str], dict[str, str]]:
    """(fixed parts' paths, choice label -> path), in the module's own order."""
    fixed: list[str] = []
    points: dict[str, str] = {}

    def walk(module: nn.Module, prefix: str) -> None:
        for name, child in module.named_children():
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(child, ChoiceModule):
                if child.label in points:
                    raise BadInputError(f"hwnas.choice label {child.label!r} is used twice "
                                        f"({points[child.label]} and {path}); labels must be "
                                        "unique")
                points[child.label] = path
            elif any(isinstance(m, ChoiceModule) for m in child.modules()):
                walk(child, path)
            else:
                fixed.append(path)

    if isinstance(model, ChoiceModule):
        raise BadInputError("the whole module is one hwnas.choice; put it inside a module")
    walk(model, "")
    return fixed, points


def trace(model: nn.Module, input_shape: tuple[int, ...]) -> list[Call]:
    """Every priced part's input and output shape, by hooks on one forward pass at batch 1
    (eval mode, no gradient, the global RNG untouched)."""
    fixed, points = split(model)
    calls: list[Call] = []
    pending: dict[int, tuple[int, ...]] = {}

    def hooks(kind: str, name: str, module: nn.Module):
        def before(_m, args):
            if len(args) != 1 or not isinstance(args[0], torch.Tensor):
                raise BadInputError(f"{kind} part {name!r} is called with {len(args)} "
                                    "inputs; a priced part takes one tensor (wrap the parts "
                                    "that take several in one module)")
            pending[id(module)] = tuple(args[0].shape)

        def after(_m, _args, out):
            if not isinstance(out, torch.Tensor):
                raise BadInputError(f"{kind} part {name!r} returns a {type(out).__name__}; a "
                                    "priced part returns one tensor")
            calls.append(Call(kind, name, pending.pop(id(module)), tuple(out.shape)))

        return module.register_forward_pre_hook(before), module.register_forward_hook(after)

    modules = {p: model.get_submodule(p) for p in fixed}
    handles = [h for p, m in modules.items() for h in hooks("fixed", p, m)]
    handles += [h for label, p in points.items()
                for h in hooks("choice", label, model.get_submodule(p))]
    was_training = model.training
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    except BadInputError:
        raise
    except Exception as exc:  # the user's own forward failing: say where, in one line
        raise BadInputError(f"the module's forward pass failed at input shape "
                            f"{(1, *input_shape)}: {type(exc).__name__}: {exc}") from None
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return calls


def candidate_shapes(point: ChoiceModule, in_shape: tuple[int, ...]) -> dict[str, tuple]:
    """Each candidate's output shape on the input the choice point saw."""
    out = {}
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        for name, module in point.candidates.items():
            was_training = module.training
            try:
                out[name] = tuple(module.eval()(torch.zeros(in_shape)).shape)
            except Exception as exc:
                raise BadInputError(f"hwnas.choice {point.label!r}: candidate {name!r} fails on "
                                    f"the input the choice point gets, shape {in_shape}: "
                                    f"{type(exc).__name__}: {exc}") from None
            finally:
                module.train(was_training)
    return out


def structural_hash(module: nn.Module) -> str:
    """12 hex digits of the module's printed structure and its tensors' shapes: in an op's
    key, so a table entry never prices a module that has since changed."""
    shapes = [(n, tuple(t.shape)) for n, t in [*module.named_parameters(),
                                               *module.named_buffers()]]
    text = f"{module!r}\n{shapes}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def rng_seed() -> int:
    """A seed read from the global torch RNG without advancing it: a network and each of its
    parts built from one RNG state start from the same weights (the conformance test builds
    them both after one `torch.manual_seed`), and another seed gives other weights."""
    state = torch.random.get_rng_state().numpy().tobytes()
    return int.from_bytes(hashlib.sha256(state).digest()[:8], "little") >> 1


def built_at(factory, kwargs: dict, seed: int) -> nn.Module:
    """The user's module as the factory makes it under `seed`, the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = factory(**kwargs)
    if not isinstance(model, nn.Module):
        raise BadInputError(f"the space's factory returned a {type(model).__name__}, not a "
                            "torch nn.Module")
    return model


class InputShaped(nn.Module):
    """Runs a part on the shape it saw in the network when a profiler feeds it (batch, cin,
    1, 1): a part that takes a flat (batch, features) input, a linear classifier."""

    def __init__(self, module: nn.Module, shape: tuple[int, ...]):
        super().__init__()
        self.module = module
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.reshape(x.shape[0], *self.shape))


def copy_of(module: nn.Module) -> nn.Module:
    return copy.deepcopy(module)


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)
