"""`module`: a user's own torch module with `hwnas.choice` points, as a search space.

`--space path/to/model.py:build_model` (or `package.module:build_model`) names a function or
nn.Module class returning a module that uses `from hwnas import choice`. The factory is called
with those of `num_classes`, `in_channels` and `resolution` its signature takes.

What is priced (the latency table's entries for one architecture):
- each choice point's chosen candidate, one op `user` (extra: label, candidate name and a
  structural hash of the candidate); an `nn.Identity()` candidate runs nothing;
- every part outside the choice points, one op `user_fixed` each (extra: its module path and
  structural hash): a child of a module that holds choice points, holding none itself
  (hwnas/spaces/modules/user_trace.py);
- not priced: code in the `forward` of a module that holds choice points (`x + y`,
  `torch.flatten`); make it a module (nn.Flatten) to have it priced.
Shapes come from one forward pass at `input_shape` with hooks. Every candidate of a choice
point must give the shape its first candidate gives, so the parts around it keep one shape
and the positions add up (ops(arch) = fixed_ops() + each position's chosen ops).

The config records the factory's file (absolute) and its sha256: a space, a run or a Ray
worker rebuilding it from a file that has changed since is refused in one line. A network's
initial weights follow the global torch RNG state at build time without advancing it, so
`build(arch)` and `build_op` of its parts agree (user_trace.rng_seed).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from functools import cached_property
from pathlib import Path

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.limits import MAX_CHANNELS, MAX_CLASSES, MAX_RESOLUTION
from hwnas.ops import OpSignature
from hwnas.options import Option
from hwnas.registry import SPACES
from hwnas.spaces.base import Position, SearchSpace

DEFAULT_FACTORY = "hwnas.spaces.modules.choice:example_network"
FACTORY_ARGS = ("num_classes", "in_channels", "resolution")


def is_factory_ref(value: str) -> bool:
    """`FILE.py:NAME` or `package.module:NAME` (registered space names have no colon)."""
    left, sep, right = value.rpartition(":")
    return bool(sep and left and right.isidentifier())


def factory_file(ref: str) -> Path:
    """The file a factory reference's code is in."""
    left, _, _ = ref.rpartition(":")
    if left.endswith(".py"):
        path = Path(left).expanduser()
        if not path.is_file():
            raise BadInputError(f"space file {left} does not exist (--space FILE.py:FUNCTION)")
        return path.resolve()
    try:
        spec = importlib.util.find_spec(left)
    except (ImportError, ValueError) as exc:
        raise BadInputError(f"cannot find module {left!r} of factory {ref!r}: {exc}") from None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise BadInputError(f"no module {left!r} for factory {ref!r}; give FILE.py:FUNCTION "
                            "or an importable package.module:FUNCTION")
    return Path(spec.origin)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_factory(ref: str, sha: str):
    """The callable `ref` names; a file is imported once per content (its sha256 names the
    module in sys.modules)."""
    left, _, name = ref.rpartition(":")
    if left.endswith(".py"):
        module_name = f"hwnas_user_space_{sha[:16]}"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, left)
            if spec is None or spec.loader is None:
                raise BadInputError(f"cannot import {left} as Python")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as exc:  # the user's file: its failure in one line
                del sys.modules[module_name]
                raise BadInputError(f"importing {left} failed: {type(exc).__name__}: "
                                    f"{exc}") from None
    else:
        module = importlib.import_module(left)
    factory = getattr(module, name, None)
    if not callable(factory):
        import difflib

        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.3)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadInputError(f"{left} has no function or class {name!r}; it has: "
                            f"{', '.join(sorted(names)) or '(none)'}{hint}")
    return factory


@SPACES.register("module")
class UserModuleSpace(SearchSpace):
    """Your torch module with hwnas.choice points: `--space model.py:build_model`.

    One op per chosen candidate and per fixed part, shapes from one traced forward pass."""

    is_chain = False  # a user's forward is any graph: the network holds its parts' modules
    arch_legend = "each hwnas.choice point's chosen candidate, in the order forward runs them"
    small_options = {"resolution": 16}
    option_specs = {
        "factory": Option(DEFAULT_FACTORY, str, help="FILE.py:NAME or package.module:NAME, a "
                                                     "function or nn.Module class"),
        "sha256": Option("", str, help="the factory file's sha256 (empty: the file as it is "
                                       "now); a file that has changed since is refused"),
        "resolution": Option(32, int, low=1, high=MAX_RESOLUTION, help="input height and width"),
        "in_channels": Option(3, int, low=1, high=MAX_CHANNELS, help="input channels"),
        "num_classes": Option(10, int, low=2, high=MAX_CLASSES, help="classifier outputs"),
    }
    factory: str
    sha256: str
    resolution: int
    in_channels: int

    @classmethod
    def command_words(cls, config: dict) -> tuple[str, dict]:
        """`--space FILE.py:NAME` (what the user typed), not `--space-opt factory=...`."""
        factory = config.get("factory") or ""
        if is_factory_ref(factory):
            return factory, {k: v for k, v in config.items() if k not in ("factory", "sha256")}
        return super().command_words(config)

    def __init__(self, **options):
        super().__init__(**options)
        if not is_factory_ref(self.factory):
            raise BadInputError(f"factory {self.factory!r} must be FILE.py:NAME or "
                                "package.module:NAME")
        left, _, name = self.factory.rpartition(":")
        path = factory_file(self.factory)
        if left.endswith(".py"):  # absolute, so a run finds it from any directory
            self.factory = self.options["factory"] = f"{path}:{name}"
        self.path = path
        now = file_sha256(path)
        if self.sha256 and self.sha256 != now:
            raise BadInputError(f"space file {path} has changed since this space was made "
                                f"(sha256 {self.sha256[:12]} then, {now[:12]} now): restore it, "
                                "or profile and search again with the file as it is")
        self.sha256 = self.options["sha256"] = now

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.resolution, self.resolution)

    # -- the user's module, made and read -------------------------------------------------
    def _make(self, seed: int):
        cache = self.__dict__.setdefault("_models", {})
        if seed not in cache:
            from hwnas.spaces.modules.user_trace import built_at

            factory = load_factory(self.factory, self.sha256)
            try:
                params = inspect.signature(factory).parameters
                takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
            except (TypeError, ValueError):
                params, takes_all = {}, False  # type: ignore[assignment]
            kwargs = {k: getattr(self, k) for k in FACTORY_ARGS if takes_all or k in params}
            if len(cache) >= 2:  # the traced one and the latest build's: parts come from it
                cache.pop(next(iter(cache)))
            cache[seed] = built_at(factory, kwargs, seed)
        return cache[seed]

    def _current(self):
        from hwnas.spaces.modules.user_trace import rng_seed

        return self._make(rng_seed())

    @cached_property
    def _layout(self) -> dict:
        """Choice points, priced parts and their signatures, from one traced forward pass."""
        import torch.nn as nn

        from hwnas.spaces.modules.user_trace import (
            candidate_shapes,
            split,
            structural_hash,
            trace,
        )

        model = self._make(0)
        fixed, points = split(model)
        if not points:
            raise BadInputError(f"{self.factory}: the module has no hwnas.choice point, so "
                                "there is nothing to search")
        calls = trace(model, self.input_shape)
        run = {c.name for c in calls}
        silent = [label for label in points if label not in run]
        if silent:
            raise BadInputError(f"{self.factory}: choice point(s) {', '.join(silent)} never run "
                                "in forward(); remove them or call them")
        last = calls[-1].out_shape
        if numel_of(last) != self.num_classes:
            raise BadInputError(f"{self.factory}: the module outputs shape {last}, not "
                                f"{self.num_classes} classes; give the factory a num_classes "
                                "parameter that sets its classifier")
        order = list(dict.fromkeys(c.name for c in calls if c.kind == "choice"))
        names, cand_sigs = {}, {}
        for label in order:
            point = model.get_submodule(points[label])
            names[label] = point.names
            first = next(c for c in calls if c.name == label)
            shapes = candidate_shapes(point, first.in_shape)
            odd = {n: s for n, s in shapes.items() if s != first.out_shape}
            if odd:
                raise BadInputError(f"hwnas.choice {label!r}: candidates give other output "
                                    f"shapes ({', '.join(f'{n}: {s}' for n, s in odd.items())}"
                                    f") than {point.names[0]!r} ({first.out_shape}); every "
                                    "candidate of a point must give one shape")
            cand_sigs[label] = {
                n: None if isinstance(m, nn.Identity) else (
                    ("label", label), ("cand", n), ("hash", structural_hash(m)))
                for n, m in point.candidates.items()}
        fixed_extra = {p: (("path", p), ("hash", structural_hash(model.get_submodule(p))))
                       for p in fixed}
        return {"points": points, "order": order, "names": names, "calls": calls,
                "cand_extra": cand_sigs, "fixed_extra": fixed_extra}

    def _sig(self, call, op: str, extra: tuple) -> OpSignature:
        return shaped_sig(op, call.in_shape, call.out_shape, extra)

    # -- the space contract ---------------------------------------------------------------
    def choices(self) -> list[tuple[str, tuple]]:
        layout = self._layout
        return [(label, layout["names"][label]) for label in layout["order"]]

    def _ops(self, values: dict | None) -> list[tuple[str | None, OpSignature]]:
        """(label or None for a fixed part, op) per priced call; `values` None: fixed only."""
        layout = self._layout
        out = []
        for call in layout["calls"]:
            if call.kind == "fixed":
                out.append((None, self._sig(call, "user_fixed", layout["fixed_extra"][call.name])))
            elif values is not None:
                extra = layout["cand_extra"][call.name][values[call.name]]
                if extra is not None:
                    out.append((call.name, self._sig(call, "user", extra)))
        return out

    def ops(self, arch: Arch) -> list[OpSignature]:
        self.check(arch)
        return [sig for _label, sig in self._ops(arch.values)]

    def fixed_ops(self) -> list[OpSignature]:
        return [sig for _label, sig in self._ops(None)]

    def positions(self) -> list[Position]:
        layout = self._layout
        out = []
        for label, names in self.choices():
            calls = [c for c in layout["calls"] if c.name == label]
            ops = {}
            for n in names:
                extra = layout["cand_extra"][label][n]
                ops[n] = () if extra is None else tuple(self._sig(c, "user", extra)
                                                        for c in calls)
            out.append(Position(label, names, ops))
        return out

    def all_ops(self) -> list[OpSignature]:
        seen = {sig.key: sig for sig in self.fixed_ops()}
        for position in self.positions():
            for sigs in position.ops.values():
                for sig in sigs:
                    seen.setdefault(sig.key, sig)
        return list(seen.values())

    def build_network(self, slot):
        """The user's module as the factory makes it, each choice point replaced by
        `slot(p, 0)` (a call of a point run twice runs that one module twice)."""
        from hwnas.spaces.modules.user_trace import copy_of

        model = copy_of(self._current())
        points = self._layout["points"]
        for p, (label, _names) in enumerate(self.choices()):
            parent, _, child = points[label].rpartition(".")
            holder = model.get_submodule(parent) if parent else model
            setattr(holder, child, slot(p, 0))
        return model

    def build_op(self, sig: OpSignature):
        from hwnas.spaces.modules.user_trace import InputShaped, copy_of, structural_hash

        extra = dict(sig.extra)
        model = self._current()
        if sig.op == "user":
            if extra.get("label") not in self._layout["points"]:
                raise BadInputError(f"op {sig.key} names no choice point of {self.factory}")
            point = model.get_submodule(self._layout["points"][extra["label"]])
            module = point.candidates[extra["cand"]] if extra.get("cand") in point.names \
                else None
        elif sig.op == "user_fixed":
            module = model.get_submodule(extra["path"]) if extra.get("path") in \
                self._layout["fixed_extra"] else None
        else:
            raise ValueError(f"no module for op {sig.op!r} (signature {sig.key})")
        if module is None or structural_hash(module) != extra.get("hash"):
            raise BadInputError(f"op {sig.key} was priced for a module {self.factory} no longer "
                                "has; profile the space again")
        module = copy_of(module)
        if "in" in extra:
            module = InputShaped(module, tuple(int(d) for d in extra["in"].split("x")))
        return module


def numel_of(shape: tuple[int, ...]) -> int:
    """Features per sample of an output shape (batch first)."""
    n = 1
    for d in shape[1:]:
        n *= d
    return n


def shaped_sig(op: str, in_shape: tuple, out_shape: tuple, extra: tuple) -> OpSignature:
    """An op's signature from the shapes it saw: an image tensor as (cin, h, w) and its
    stride; any other shape flattened into cin (h = w = 1), its true shape kept in `in`
    so `build_op` restores it from the (batch, cin, 1, 1) input profilers feed."""
    if len(in_shape) == 4:
        cin, h, w = in_shape[1:]
        extra_in: tuple = ()
    else:
        cin, h, w = numel_of(in_shape), 1, 1
        extra_in = (("in", "x".join(map(str, in_shape[1:]))),)
    cout = out_shape[1] if len(out_shape) == 4 else numel_of(out_shape)
    stride = max(1, -(-h // out_shape[2])) if len(in_shape) == 4 and len(out_shape) == 4 else 1
    return OpSignature(op, cin, cout, h, w, stride=stride, extra=(*extra, *extra_in))
