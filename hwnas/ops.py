"""OpSignature: the frozen, plain-data description of one operator instance.

It is the only thing profilers and latency tables ever see of a search space. Its key is
generated from its fields, so a table entry and the op it times cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hwnas.errors import BadInputError

# Short names used in keys; the order here is the order in the key.
_KEY_FIELDS = (
    ("cin", "cin"), ("cout", "cout"), ("h", "h"), ("w", "w"), ("kernel", "k"),
    ("stride", "s"), ("expand", "e"), ("classes", "n"),
)


@dataclass(frozen=True)
class OpSignature:
    """One operator at one place in a network: what it is and the shapes it sees.

    `h`/`w` are the input spatial size. Fields left at 0 do not apply to the op and are omitted
    from the key; `extra` holds space-specific options as sorted (name, value) pairs.
    """

    op: str
    cin: int
    cout: int
    h: int
    w: int
    kernel: int = 0
    stride: int = 1
    expand: int = 0
    classes: int = 0
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        if not self.op or "|" in self.op or "=" in self.op:
            raise BadInputError(f"op name must be non-empty without '|' or '='; got {self.op!r}")
        for name in ("cin", "cout", "h", "w"):
            if getattr(self, name) <= 0:
                raise BadInputError(f"OpSignature.{name} must be positive; "
                                    f"got {getattr(self, name)}")
        object.__setattr__(self, "extra", tuple(sorted((str(k), str(v)) for k, v in self.extra)))

    @property
    def key(self) -> str:
        parts = [self.op]
        for field, short in _KEY_FIELDS:
            value = getattr(self, field)
            if field == "w":
                continue  # folded into hw when square
            if field == "h":
                parts.append(f"hw={self.h}" if self.h == self.w else f"hw={self.h}x{self.w}")
                continue
            if value or field in ("cin", "cout"):
                parts.append(f"{short}={value}")
        parts.extend(f"{k}={v}" for k, v in self.extra)
        return "|".join(parts)

    @property
    def out_hw(self) -> tuple[int, int]:
        s = self.stride
        return (self.h + s - 1) // s, (self.w + s - 1) // s

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> OpSignature:
        d = dict(d)
        d["extra"] = tuple(sorted(dict(d.get("extra", {})).items()))
        return cls(**d)

    @classmethod
    def from_key(cls, key: str) -> OpSignature:
        """Parse a key back; `from_key(sig.key) == sig` for every signature."""
        op, *fields = key.split("|")
        by_short = {short: field for field, short in _KEY_FIELDS}
        values: dict = {"op": op}
        extra = []
        for part in fields:
            if "=" not in part:
                raise BadInputError(f"malformed op key {key!r}: {part!r} has no '='")
            name, value = part.split("=", 1)
            if name == "hw":
                h, _, w = value.partition("x")
                values["h"], values["w"] = int(h), int(w or h)
            elif name in by_short:
                values[by_short[name]] = int(value)
            else:
                extra.append((name, value))
        values["extra"] = tuple(extra)
        try:
            return cls(**values)
        except TypeError as exc:
            raise BadInputError(f"malformed op key {key!r}: {exc}") from None
