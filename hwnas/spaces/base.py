"""SearchSpace: the contract every space fulfils, and the generic parts they share.

A space is a list of labelled choices. Strategies see an integer vector (one index per label);
profilers and latency tables see only `ops(arch)`; estimators see `build(arch)`; supernets and a
differentiable expected latency see `positions()` and `fixed_ops()`.

Contract the rest of hwnas relies on (checked for every registered space by
tests/conformance/test_spaces.py):
- options are declared as data (`option_specs`; a plug-in imports `Option`, this base,
  `Position` and `SPACES` from `hwnas.plugins`) and include `num_classes`, the
  classifier's outputs: `hwnas search` sets it from the dataset;
- an instance has `num_classes` (int) and `input_shape` (channels, height, width): the scratch
  estimator checks the one against the dataset and feeds inputs of the other;
- `SPACES.get(name)(**space.config())` rebuilds the space;
- `positions()` are `choices()` label for label, or (`positions_are_choices = False`) a
  supernet's own view that `position_values` and `arch_from_positions` map to and from.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.ops import OpSignature
from hwnas.options import Configurable, Option


@dataclass(frozen=True)
class Position:
    """One searchable position: its label, its options (the values and order of `choices()`)
    and, per option, the ops that option runs at this position in the whole network.

    `ops[option]` is a tuple of OpSignatures, empty where the option runs nothing (`zero`,
    `none`, an identity `skip_connect`); a position repeated through the network (an NB201 edge
    in every cell) lists every instance. Hashing uses label and options only.
    """

    label: str
    options: tuple
    ops: Mapping[Any, tuple[OpSignature, ...]] = field(hash=False)

    def __post_init__(self):
        options = tuple(self.options)
        if set(self.ops) != set(options) or len(set(options)) != len(options):
            raise ValueError(f"position {self.label!r}: ops must give exactly one entry per "
                             f"option; options {list(options)}, ops for {list(self.ops)}")
        # Read-only, so a supernet built from a position cannot change what the space says.
        ops = MappingProxyType({opt: tuple(self.ops[opt]) for opt in options})
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "ops", ops)

    def to_dict(self) -> dict:
        """Plain JSON data; `ops` is keyed by `str(option)`, `options` keeps the values."""
        return {"label": self.label, "options": list(self.options),
                "ops": {str(opt): [sig.to_dict() for sig in self.ops[opt]]
                        for opt in self.options}}


def weight_array(weights) -> np.ndarray:
    """One position's weights as a float array, whether a list or a torch tensor (detached:
    deriving an architecture reads the weights, it never differentiates through them)."""
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().double().numpy()
    return np.asarray(weights, dtype=float)


class SearchSpace(Configurable, ABC):
    """Constructors only resolve and store their options; nothing is built until asked.

    The default constructor resolves `**options` against `option_specs` and stores each as an
    attribute of the same name; `config()` returns them.
    """

    kind: ClassVar[str] = "search space"
    list_command: ClassVar[str] = "hwnas list spaces"
    option_specs: ClassVar[dict[str, Option]] = {}
    registry_name = "base"
    num_classes: int
    # True when `ops(arch)` is exactly `fixed_ops()` plus each position's chosen option's ops
    # (tests/unit/test_positions.py checks it), so a network's additive costs are per-position
    # sums and an expected cost is linear in each position's probabilities. A cell space whose
    # node sums and dead edges depend on several positions at once sets it False.
    positions_add_up: ClassVar[bool] = True
    # True when `positions()` are `choices()` label for label (chains, NB201). A cell space
    # whose architectures pick each node's inputs as well as its ops (DARTS, NASNet) has a
    # supernet of every candidate edge instead: it sets this False and overrides
    # `position_values` and `arch_from_positions`, which map between the two views.
    positions_are_choices: ClassVar[bool] = True
    # False when a derived network's weights cannot be taken out of the supernet (nested
    # motifs whose merges concatenate only the live inputs): the gradient one-shot methods,
    # which evaluate the argmax child each epoch, refuse such a space in one line.
    supernet_children: ClassVar[bool] = True
    # What the compact architecture strings in tables (`compact()`) mean, printed under
    # `hwnas pareto`'s front: a reader should not need the source to read "73 -|56".
    arch_legend: ClassVar[str] = "the space's choices in order (see `hwnas list spaces`)"
    # Options of a small instance, quick to build, train and export: what the conformance
    # tests check every registered space at (the defaults, when they are small already).
    small_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options):
        self.options = self.resolve_options(options)
        for name, value in self.options.items():
            setattr(self, name, value)

    @property
    def name(self) -> str:
        return self.registry_name

    # -- what each space defines ------------------------------------------------------------
    @abstractmethod
    def choices(self) -> list[tuple[str, tuple]]:
        """Ordered (label, options) pairs; every combination of options is a valid arch."""

    @abstractmethod
    def ops(self, arch: Arch) -> list[OpSignature]:
        """The ops the network runs, in order; the latency of `arch` is read from these."""

    @abstractmethod
    def build_op(self, sig: OpSignature):
        """A torch module for one op, rebuilt from its plain-data signature."""

    @property
    @abstractmethod
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one input image."""

    def positions(self) -> list[Position]:
        """One `Position` per label of `choices()`, in the same order.

        Not abstract, so a space made for a test or a table alone need not define it; every
        registered space does (tests/conformance/test_spaces.py)."""
        raise NotImplementedError(f"{self.owner()} does not define positions(); supernets and "
                                  "the expected latency need it (hwnas.spaces.base.Position)")

    def check_supernet(self, who: str) -> None:
        """Refuse, in one line, a method that needs a supernet of a space without positions."""
        try:
            self.positions()
        except NotImplementedError:
            from hwnas.registry import SPACES

            having = [n for n in SPACES.names()  # the registered spaces that define them
                      if SPACES.get(n).positions is not SearchSpace.positions
                      and SPACES.get(n).check_supernet is SearchSpace.check_supernet]
            if len(having) > 1:
                listed = f"{', '.join(having[:-1])} or {having[-1]}"
            else:
                listed = having[0] if having else "one that defines them"
            raise BadInputError(f"{who} needs a space with positions() (a supernet); space "
                                f"{self.name!r} has none: use --space {listed}") from None

    def position_values(self, arch: Arch, positions: Sequence[Position] | None = None) -> list:
        """The option each position of `positions()` (or of `positions`, the same list when a
        caller holds it already) takes in `arch`: its label's value by default."""
        positions = self.positions() if positions is None else positions
        return [arch.values[p.label] for p in positions]

    def arch_from_positions(self, weights: Sequence[Any],
                            positions: Sequence[Position] | None = None) -> Arch:
        """The architecture a supernet's per-position weights derive (one 1-D vector of
        non-negative strengths per position, in `positions()` order: probabilities, or a
        one-hot vector). The strongest option at each position by default (the argmax of
        ProxylessNAS, DARTS on NB201 and FBNet); a space whose positions are not its choices
        applies its paper's rule (DARTS: each node keeps its two strongest edges)."""
        positions = self.positions() if positions is None else positions
        if len(weights) != len(positions):
            raise ValueError(f"expected {len(positions)} weight vectors, got {len(weights)}")
        return Arch(self.name, {p.label: p.options[int(np.argmax(weight_array(w)))]
                                for p, w in zip(positions, weights, strict=True)})

    def position_groups(self) -> Sequence[Sequence[Sequence[tuple[int, int]]]] | None:
        """Where positions are not choices: the positions grouped so that an architecture is
        one option per group, each option the (position, option index) pairs it sets (a DARTS
        node: two kept edges with their ops; its other edges stay at option 0, `none`, which
        costs nothing). A latency-target repair and the cost range use them; None: no groups
        (positions that are choices need none)."""
        return None

    def fixed_ops(self) -> list[OpSignature]:
        """The ops that run whatever is chosen (stem, head, fixed reduction blocks)."""
        raise NotImplementedError(f"{self.owner()} does not define fixed_ops(); supernets and "
                                  "the expected latency need it (hwnas.spaces.base.Position)")

    def option_module(self, position: Position, option, instance: int = 0):
        """The module `option` runs at one instance of `position`: `build_op` of its op, or an
        identity where it runs none (`zero` removing a chain layer keeps the layer's input).
        Spaces whose no-op options mean something else (a cell edge's `none`) override it."""
        import torch.nn as nn

        sigs = position.ops[option]
        if not sigs:
            return nn.Identity()
        return self.build_op(sigs[instance])

    def build_network(self, slot):
        """The whole network with `slot(p, i)` as the module of instance `i` of searchable
        position `p` (an index into `positions()`); everything else is the space's fixed ops.

        The one skeleton both a network and a supernet are built from: `build(arch)` passes
        each position's chosen `option_module`, a supernet a mixed op of all of them, so a
        derived architecture is exactly `build(arch)`. Modules are created in the order of
        `ops(arch)`. The default is a chain spaces with one instance per position whose
        `fixed_ops()` are a stem before the positions and the rest after them; other
        skeletons override this."""
        import torch.nn as nn

        fixed = self.fixed_ops()
        stem = [self.build_op(sig) for sig in fixed[:1]]
        layers = [slot(p, 0) for p in range(len(self.positions()))]
        tail = [self.build_op(sig) for sig in fixed[1:]]
        return nn.Sequential(*stem, *layers, *tail)

    # -- shared behaviour -------------------------------------------------------------------
    def build(self, arch: Arch):
        """The network of `arch`: `build_network` with each position's chosen option."""
        self.check(arch)
        positions = self.positions()
        values = self.position_values(arch, positions)
        return self.build_network(lambda p, i: self.option_module(positions[p], values[p], i))

    def check(self, arch: Arch) -> Arch:
        if arch.space != self.name:
            raise BadInputError(f"architecture belongs to space {arch.space!r}, not {self.name!r}")
        allowed = dict(self.choices())
        if set(arch.values) != set(allowed):
            missing = sorted(set(allowed) - set(arch.values))
            extra = sorted(set(arch.values) - set(allowed))
            raise BadInputError(f"architecture labels do not match space {self.name!r}: "
                                f"missing {missing}, unexpected {extra}")
        for label, value in arch.values.items():
            if value not in allowed[label]:
                raise BadInputError(f"{label}={value!r} is not a choice of {self.name}; "
                                    f"allowed: {', '.join(map(str, allowed[label]))}")
        return arch

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Inclusive integer bounds of the vector encoding."""
        upper = np.array([len(opts) - 1 for _, opts in self.choices()], dtype=int)
        return np.zeros_like(upper), upper

    def encode(self, arch: Arch) -> np.ndarray:
        self.check(arch)
        return np.array([opts.index(arch.values[label]) for label, opts in self.choices()],
                        dtype=int)

    def decode(self, x: Sequence[float]) -> Arch:
        """Round and clip into range, so any real vector from a pymoo operator is valid."""
        pairs = self.choices()
        if len(x) != len(pairs):
            raise BadInputError(f"vector has {len(x)} entries; space {self.name} has {len(pairs)}")
        values = {}
        for (label, opts), xi in zip(pairs, x, strict=True):
            values[label] = opts[int(np.clip(np.rint(xi), 0, len(opts) - 1))]
        return Arch(self.name, values)

    def sample(self, rng: np.random.Generator) -> Arch:
        return Arch(self.name, {label: opts[rng.integers(len(opts))]
                                for label, opts in self.choices()})

    def size(self) -> int:
        return int(np.prod([len(opts) for _, opts in self.choices()], dtype=object))

    def default_arch(self) -> Arch:
        return Arch(self.name, {label: opts[0] for label, opts in self.choices()})

    def all_ops(self) -> list[OpSignature]:
        """Every distinct op any architecture can run, for profiling.

        Assumes ops at one label do not depend on the choice at another (true of chain spaces
        whose stage shapes are fixed); a space where that fails overrides this.
        """
        seen: dict[str, OpSignature] = {}
        base = dict(self.default_arch().values)
        for label, opts in self.choices():
            for opt in opts:
                for sig in self.ops(Arch(self.name, {**base, label: opt})):
                    seen.setdefault(sig.key, sig)
        return list(seen.values())

    def derived_choices(self) -> list[tuple[str, tuple]]:
        """Extra categorical labels a surrogate model may read beside `choices()`: facts an
        architecture's labels imply but a model would otherwise have to learn from few
        results (e.g. which edges of a cell are dead). None by default."""
        return []

    def derived(self, arch: Arch) -> dict:
        """Values of `derived_choices()` for `arch`."""
        return {}

    def network_key(self, arch: Arch) -> tuple:
        """Equal for architectures that compute the same network (a space with dead edges
        overrides it); the league counts the front's distinct networks with it."""
        return tuple(arch.values.values())

    def compact(self, arch: Arch) -> str:
        """A short human form for tables; spaces with long labels override it."""
        return " ".join(str(v) for v in arch.values.values())

    @classmethod
    def command_words(cls, config: dict) -> tuple[str, dict]:
        """What a printed command passes as `--space` for a space of this `config`, and the
        options left for `--space-opt`: its name and all of them by default. A space read
        from a user's file names the file instead of its content."""
        return cls.registry_name, dict(config)

    def describe(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.config().items())})"
