"""`--method auto`: the search strategy picked from what the family league measured.

The rule is data, `auto_rule.json` beside this module, written by `benchmarks/auto_rule.py`
from `hwnas bench --family` results (hwnas.league.auto_rule derives it). It holds cells: one
per objective count (two, three, four) and budget the family was run at, each
with the family's methods in their order (mean rank over the cell's problems, then mean HV
ratio) and each method's evidence. `choose` applies it to one search's inputs, in this order,
and says every step that mattered in one line (`Choice.why`):

1. A space no larger than the budget: `random`. Nothing is left to learn that random search,
   which draws without repeats while repeats are avoidable, does not cover.
2. The cell: the objective count's (a count the family was not run at takes the nearest
   count's, said as not measured) and the budget's band: the measured budget nearest to
   it, a tie to the smaller (with 100 and 500 measured: up to 300 the 100-evaluation cell,
   above 300 the 500 one). A budget below the smallest or above the largest measured one
   takes that end's cell, said as not measured.
3. In the cell's order, the first method that is registered and sample-based now (auto never
   picks a one-shot method: it trains a supernet, which a league cannot measure), takes
   `--warm-start` when one is given, and
   * when the costs other than accuracy are not known before evaluation (the search's cost
     model does not give them: they come with each candidate's result), does not read known
     costs: the league gave every method
     the benchmark's costs exactly, so only a method that never reads them (its
     `device_costs` option, where it has one, defaults to 'predicted') was measured as it
     would run; mobo and dppnet read them by default;
   * has no cost ceiling below the budget (`ceilings` in the rule: a method whose time per
     proposal grows with the observations, mobo, is picked only up to the largest budget
     at which that time was measured acceptable).
4. Hard limits (`--constraint`) do not change the pick (every strategy rules out proposals
   past a known limit the same way, hwnas.strategies.base), but the family was run without
   any: said as not measured.

The pick's options are the method's defaults (the league ran those); `--strategy-opt` is
refused with auto (`check_no_options`): options belong to a method, so name it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwnas.errors import BadInputError

AUTO = "auto"
RULE_PATH = Path(__file__).with_name("auto_rule.json")
RULE_NAME = "hwnas/searching/auto_rule.json"  # as the line cites it
RULE_FORMAT = 1
SMALL_SPACE_METHOD = "random"
SUMMARY = ("`hwnas search --method auto`: the sample-based strategy the family league ranks "
           "first for the search's budget, number of objectives and costs (README)")
ACCURACY = "accuracy"  # objectives named accuracy or accuracy:DATASET are what evaluation measures


@dataclass(frozen=True)
class Choice:
    """What auto picked: the method, its options (the defaults: {}), the one line said, and the
    inputs it was picked on (recorded in the run's config)."""

    method: str
    options: dict = field(default_factory=dict)
    why: str = ""
    inputs: dict = field(default_factory=dict)
    measured: bool = True  # False: some input lies outside what the family league ran

    def record(self, rule: Mapping | None = None) -> dict:
        """What a run's config.json keeps under "auto"."""
        return {"method": self.method, "options": dict(self.options), "why": self.why,
                "inputs": dict(self.inputs), "measured": self.measured,
                "rule": {"path": RULE_NAME, "created": (rule or {}).get("created")}}


@functools.lru_cache(maxsize=4)
def _read_rule(path: str) -> dict:
    try:
        rule = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        rule = None
    if not isinstance(rule, dict) or rule.get("format") != RULE_FORMAT or not rule.get("cells"):
        raise BadInputError(f"{path} is not a rule of --method auto (format {RULE_FORMAT}); "
                            "write it with `.venv/bin/python benchmarks/auto_rule.py --runs "
                            "DIR100 DIR500 --write`")
    return rule


def load_rule(path: str | Path | None = None) -> dict:
    """The shipped rule (or the one at `path`), read once per process."""
    return _read_rule(str(path or RULE_PATH))


def check_no_options(given: Sequence[tuple[str, str]]) -> None:
    """Refuse, in one line, what sets a method's options (`given`: (flag, value) pairs as
    typed, e.g. ("--strategy-opt", "population=20")): options belong to a method, and auto
    names the method only when the run starts."""
    if not given:
        return
    from hwnas.quoting import shell_word

    typed = " ".join(f"{flag} {shell_word(value)}" for flag, value in given)
    raise BadInputError(f"{typed} with --method auto: options belong to a method, and auto "
                        "picks the method when the run starts; name the method instead: "
                        f"--method METHOD {typed} (`hwnas list strategies` lists each method's "
                        "options)")


def costs_known(objectives: Sequence[str], provides: Iterable[str]) -> bool:
    """Whether every objective other than accuracy is known before evaluation (given by the
    search's cost model: a latency table's prediction, params/FLOPs, a benchmark's costs)."""
    costs = [o for o in objectives if o.partition(":")[0] != ACCURACY]
    return set(costs) <= set(provides)


def choose(budget: int, objectives: int, known_costs: bool, space_size: int | None = None,
           constraints: Sequence[str] = (), *, warm_start: bool = False,
           rule: Mapping | None = None, candidates: Sequence[str] | None = None) -> Choice:
    """The method for a search of `budget` evaluations on `objectives` objectives (see the
    module's docstring for the order of the steps). `candidates`: the sample-based strategies
    to pick among (default: every registered one, hwnas.registry.STRATEGIES)."""
    rule = load_rule() if rule is None else rule
    inputs = {"budget": int(budget), "objectives": int(objectives),
              "known_costs": bool(known_costs), "space_size": space_size,
              "constraints": list(constraints), "warm_start": bool(warm_start)}
    said = _inputs_text(inputs)
    if space_size is not None and space_size <= budget:
        return Choice(SMALL_SPACE_METHOD, {}, (
            f"--method auto: {SMALL_SPACE_METHOD} ({said}: the space has {space_size} "
            f"architecture(s), no more than the budget, so nothing is left to learn that "
            f"random search without repeats does not cover)"), inputs, True)
    unmeasured: list[str] = []
    cell = _cell(rule, objectives, budget, unmeasured)
    if not known_costs:
        unmeasured.append("the league knew every cost before evaluation")
    if constraints:
        unmeasured.append(f"{len(constraints)} hard limit(s), the league ran without any "
                          "(they do not change the pick)")
    pool = set(_sample_based() if candidates is None else candidates)
    ceilings = rule.get("ceilings") or {}
    skipped: list[str] = []
    method = None
    for name in cell["order"]:
        reason = _unfit(name, pool, known_costs, warm_start, budget, ceilings)
        if reason is None:
            method = name
            break
        if reason:  # "": not a candidate here at all, not worth a word
            skipped.append(f"{name} ({reason})")
    if method is None:
        raise BadInputError(f"--method auto: none of the methods the family league measured "
                            f"({', '.join(cell['order'])}) can run this search "
                            f"({'; '.join(skipped) or 'none registered'}); name one with "
                            "--method (`hwnas list strategies`)")
    evidence = _evidence(rule, cell, method)
    not_measured = f"not measured: {'; '.join(unmeasured)}; " if unmeasured else ""
    passed = f", passing over {', '.join(skipped)}" if skipped else ""
    why = (f"--method auto: {method} ({said}; {not_measured}picked {method}{passed}: "
           f"{evidence}; rule: {RULE_NAME})")
    return Choice(method, {}, why, inputs, not unmeasured)


def _inputs_text(inputs: dict) -> str:
    n = inputs["objectives"]
    parts = [f"{n} objective{'s' if n != 1 else ''}", f"budget {inputs['budget']}",
             "costs known before evaluation" if inputs["known_costs"]
             else "costs known only after evaluation"]
    if inputs["warm_start"]:
        parts.append("--warm-start")
    return ", ".join(parts)


def _cell(rule: Mapping, objectives: int, budget: int, unmeasured: list[str]) -> dict:
    """The cell for `objectives` and `budget`; what lies outside the measured is appended to
    `unmeasured`."""
    cells = list(rule["cells"])
    counts = sorted({n for c in cells for n in c["objectives"]})
    if objectives in counts:
        wanted = objectives
    else:  # the nearest measured count (a tie: the smaller)
        wanted = min(counts, key=lambda n: (abs(n - objectives), n))
        unmeasured.append(f"{objectives} objective(s), the league ran "
                          f"{_range_text(counts)}: the {wanted}-objective cell")
    in_group = [c for c in cells if wanted in c["objectives"]]
    budgets = sorted(c["budget"] for c in in_group)
    nearest = min(budgets, key=lambda b: (abs(b - budget), b))
    ran = f"the league ran on {_range_text(in_group[0]['objectives'])} objectives"
    if budget < budgets[0]:
        unmeasured.append(f"budget {budget} is below {budgets[0]}, the smallest {ran}: "
                          f"its {budgets[0]}-evaluation cell")
    elif budget > budgets[-1]:
        unmeasured.append(f"budget {budget} is above {budgets[-1]}, the largest {ran}: "
                          f"its {budgets[-1]}-evaluation cell")
    return next(c for c in in_group if c["budget"] == nearest)


def _range_text(counts: Sequence[int]) -> str:
    return " and ".join(map(str, counts)) if len(counts) <= 2 else \
        f"{', '.join(map(str, counts[:-1]))} and {counts[-1]}"


def _unfit(name: str, pool: set[str], known_costs: bool, warm_start: bool, budget: int,
           ceilings: Mapping) -> str | None:
    """Why `name` cannot be auto's pick here ("" when it is not a candidate at all), or None."""
    from hwnas.registry import STRATEGIES

    if name not in pool:
        return ""
    cls = STRATEGIES.get(name)
    if warm_start and not getattr(cls, "takes_warm_start", False):
        return "takes no --warm-start"
    if not known_costs and reads_known_costs(cls):
        return "reads known costs"
    ceiling = ceilings.get(name)
    if ceiling and budget > int(ceiling["budget"]):
        return f"its time per proposal is measured up to {ceiling['budget']} evaluations"
    return None


def reads_known_costs(cls: Any) -> bool:
    """A strategy whose `device_costs` option defaults to reading the cost model (mobo's
    'exact', dppnet's 'auto'), not to predicting every objective."""
    spec = getattr(cls, "option_specs", {}).get("device_costs")
    return spec is not None and spec.default != "predicted"


def _sample_based() -> list[str]:
    from hwnas.registry import STRATEGIES

    return [n for n in STRATEGIES.names() if getattr(STRATEGIES.get(n), "sample_based", False)]


def _evidence(rule: Mapping, cell: Mapping, method: str) -> str:
    """The measured numbers behind the pick, from its cell."""
    m = cell["methods"][method]
    place = cell["order"].index(method) + 1
    seeds = cell.get("seeds")
    if seeds is None:  # a rule written before cells named their seeds: the budget's first source
        source: Mapping = next((s for s in rule.get("sources", [])
                                if s["budget"] == cell["budget"]), {})
        seeds = source.get("seeds")
    seeds_text = f" x {seeds} seed(s)" if seeds else ""
    worst = m["worst"]
    n = cell["problems"]
    counts = "/".join(count_words(n) for n in cell["objectives"])
    return (f"{_ordinal(place)} by mean rank ({m['mean_rank']:.2f}) of {len(cell['order'])} "
            f"methods on the {n} {counts}-objective problems of the family league at "
            f"{cell['budget']} evaluations{seeds_text}, first on {m['first_on']} of {n}, mean HV "
            f"ratio {m['hv_ratio']:.4f}, worst {worst['hv_ratio']:.4f} ({worst['slug']})")


def count_words(n: int) -> str:
    """2 -> 'two': how a cell's objective count reads in a sentence."""
    return {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}.get(n, str(n))


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th")
