"""Arch: one architecture of one space, as frozen plain data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Arch:
    """`Arch(space="proxyless", values={"s1.b0": "mb_k5_e6", ...})`, never mutated.

    `key` is a short hash of the sorted JSON, stable across runs and machines.
    """

    space: str
    values: Mapping[str, str | int] = field(default_factory=dict)

    def __post_init__(self):
        frozen = MappingProxyType(dict(sorted(dict(self.values).items())))
        object.__setattr__(self, "values", frozen)

    def canonical_json(self) -> str:
        return json.dumps({"space": self.space, "values": dict(self.values)}, sort_keys=True,
                          separators=(",", ":"))

    @property
    def key(self) -> str:
        return hashlib.sha1(self.canonical_json().encode()).hexdigest()[:12]

    def __str__(self) -> str:
        body = " ".join(f"{k}={v}" for k, v in self.values.items())
        return f"{self.space}[{body}]"

    def __hash__(self) -> int:
        return hash(self.canonical_json())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Arch) and self.canonical_json() == other.canonical_json()

    def to_dict(self) -> dict:
        return {"space": self.space, "values": dict(self.values)}

    @classmethod
    def from_dict(cls, d: Mapping) -> Arch:
        return cls(space=str(d["space"]), values=dict(d["values"]))
