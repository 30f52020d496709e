"""The family of problems of a tabular benchmark: what `hwnas bench --family` runs the league on.

A league on one or five hand-picked problems says how the strategies rank there; measured on
other problems of the same benchmark the ranking need not hold. The family is every problem
of the benchmark's kind, derived from its format's objective names (`BenchmarkTable.aliases`),
never from a list written here:

* Two-objective problems: every accuracy dataset the table resolves (`accuracy:DATASET`) ×
  every device cost it resolves (`latency:DEVICE`, `energy:DEVICE`). On nb201_hw.csv: cifar10,
  cifar100, imagenet16 × latency on raspi4, pixel3, eyeriss, fpga, edgegpu, edgetpu and energy
  on fpga = 21 problems.
* A sample of three- and four-objective problems: one accuracy and 2 (or 3) device costs on
  distinct devices (two costs of one device are left out: on nb201_hw.csv energy:fpga is
  latency:fpga × 7 exactly, a derived column, so the pair would be one objective twice). Of
  every such combination, the `size` whose sha256 of "SEED:SLUG" is smallest are taken: the
  same for a given seed on any machine, Python or numpy version, and a seed draws another
  sample.

A combination no row has every value of is left out (it has no front). Rows missing some
objective are legal: the league scores them infeasible (hwnas.league.runner INFEASIBLE_POLICY);
on nb201_hw.csv the edgegpu and edgetpu columns are empty for about 87% of the rows.

Each problem has a stable slug, its folder name under the family's output
(`cifar10-pixel3-latency`, `cifar100-raspi4-latency-fpga-energy`).
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hwnas.errors import BadInputError

COST_KINDS = ("latency", "energy")  # the objective names of device costs: KIND:DEVICE
TWO = "two-objective"
MULTI = "multi-objective"
SAMPLE_SIZE = 3  # three-objective and four-objective problems each
SAMPLE_COSTS = (2, 3)  # device costs beside the accuracy in the sampled problems


@dataclass(frozen=True)
class FamilyProblem:
    """One problem of the family: its slug (folder name), objective names and group."""

    slug: str
    objectives: tuple[str, ...]  # e.g. ("accuracy:cifar10", "latency:pixel3")
    group: str  # TWO or MULTI

    @property
    def objectives_text(self) -> str:
        """As `hwnas bench --objectives` takes them."""
        return ",".join(self.objectives)


def accuracy_names(table) -> list[str]:
    """`accuracy:DATASET` names the table resolves, one per column, in the format's order
    (bare `accuracy` is the default dataset's alias, not another dataset)."""
    return _distinct(table, [n for n in table.aliases() if n.startswith("accuracy:")])


def cost_names(table) -> list[str]:
    """`latency:DEVICE` / `energy:DEVICE` names the table resolves, one per column."""
    return _distinct(table, [n for n in table.aliases()
                             if n.partition(":")[0] in COST_KINDS and n.partition(":")[2]])


def _distinct(table, names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        column = table.resolve(name)
        if column not in seen:
            seen.add(column)
            out.append(name)
    return out


def slug_of(objectives: Sequence[str]) -> str:
    """('accuracy:cifar10', 'latency:pixel3') -> 'cifar10-pixel3-latency'."""
    accuracy, *costs = objectives
    parts = [accuracy.partition(":")[2]]
    for cost in costs:
        kind, _, device = cost.partition(":")
        parts += [device, kind]
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def _has_rows(table, objectives: Sequence[str]) -> bool:
    return bool(table.available(list(objectives)).any())


def family_problems(table, *, sample_seed: int = 0,
                    sample_size: int = SAMPLE_SIZE) -> list[FamilyProblem]:
    """The whole family: the two-objective problems in the format's order (accuracy first,
    then cost), then the sampled multi-objective ones (three-objective first)."""
    accuracies, costs = accuracy_names(table), cost_names(table)
    problems = [FamilyProblem(slug_of(objs), objs, TWO)
                for objs in ((a, c) for a in accuracies for c in costs)
                if _has_rows(table, objs)]
    for k in SAMPLE_COSTS:
        combos = [(a, *cs) for a in accuracies for cs in itertools.combinations(costs, k)
                  if len({c.partition(":")[2] for c in cs}) == k and _has_rows(table, (a, *cs))]
        problems += [FamilyProblem(slug_of(objs), objs, MULTI)
                     for objs in sample(combos, sample_seed, sample_size)]
    return problems


def sample(combos: list[tuple[str, ...]], seed: int, size: int) -> list[tuple[str, ...]]:
    """`size` of `combos`, the ones whose sha256 of "SEED:SLUG" is smallest, kept in their
    enumeration order."""
    def key(objs: tuple[str, ...]) -> str:
        return hashlib.sha256(f"{seed}:{slug_of(objs)}".encode()).hexdigest()

    chosen = set(sorted(combos, key=key)[:max(0, size)])
    return [c for c in combos if c in chosen]


def select(problems: list[FamilyProblem], slugs: str | Sequence[str] | None,
           list_command: str) -> list[FamilyProblem]:
    """The problems named by `slugs` ('a,b' or a list), in the family's order; None: all.
    An unknown slug is one line naming the closest and `list_command`."""
    if slugs is None:
        return list(problems)
    if isinstance(slugs, str):
        slugs = [s.strip() for s in slugs.split(",")]
    if not slugs or not all(slugs):
        raise BadInputError(f"--problems {','.join(slugs)!r} names an empty problem; give "
                            "comma-separated slugs, e.g. --problems cifar10-pixel3-latency "
                            f"(list them: {list_command})")
    by_slug = {p.slug: p for p in problems}
    for slug in slugs:
        if slug not in by_slug:
            close = difflib.get_close_matches(slug, list(by_slug), n=1, cutoff=0.3)
            hint = f"; closest: {close[0]!r}" if close else ""
            raise BadInputError(f"--problems {slug}: no such problem in the family{hint}; "
                                f"list them: {list_command}")
    if len(set(slugs)) != len(slugs):
        raise BadInputError(f"--problems lists a problem twice: {','.join(slugs)}")
    wanted = set(slugs)
    return [p for p in problems if p.slug in wanted]
