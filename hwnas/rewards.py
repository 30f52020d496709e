"""Every scalar reward of hwnas, in one module: the functions at hand-checkable points
(`mnasnet_reward`, `weighted_reward`, MONAS's), the roles a reward reads (`reward_terms`), and
the learning controllers' `Rewarder` (`reinforce`, `metaqnn`, `enas`, `spos`): one number per
evaluated architecture, read from the run's OWN objectives (never assumed names such as
`accuracy` or `latency_ms`: the roles are resolved against the run's objectives, or named by
options). Evolution's `fitness=mnasnet` and ProxylessNAS's REINFORCE reward use the same
function with the same option names (`target_ms`, `reward_w`; README "Shared option names").

Rewards (strategy option `reward`):

* `weighted` (default): sum_o w_o * g_o / sum_o w_o, where g_o is objective o min-max
  normalised to [0, 1] over the results told so far, 1 the best end
  (hwnas.objectives.weighted_reward on values shifted to the worst end and divided by the
  range). `weights` gives w (comma-separated, one per objective); equal by default.
* `mnasnet`: MnasNet (Tan et al., 2019, eq. 2) ACC * (LAT/T)^w, w = alpha if LAT <= T else
  beta (`mnasnet_reward`); `constraint=soft`: alpha = beta = `reward_w` (-0.07),
  `constraint=hard`: alpha = 0, beta = -1. ACC and LAT as the run has them.
* `monas_mixed`, `monas_cost_threshold`, `monas_accuracy_threshold`: MONAS (Hsu et al., 2018,
  arXiv 1806.10332, section 3, its reward functions) -- see `monas_mixed_reward` and the two
  threshold-gated functions below.

The cost a reward reads (`cost`: MnasNet's LAT, MONAS's energy / power) is whichever objective
of the run the user names -- latency, energy, peak memory, a device's latency; by default the
first objective to minimise whose name says latency (mnasnet) or energy (MONAS), else the first
to minimise. The accuracy (`accuracy`) is by default the first objective to maximise.

Target T (`target_ms`, in the cost's unit; mnasnet and monas_cost_threshold): when not given,
the median cost of 32 architectures drawn uniformly from the space (a seeded draw of its own)
read from the strategy's cost model -- a "typical" network of the space, so the reward neither
ignores cost nor makes every network infeasible; when the cost model does not provide the cost
(e.g. `hwnas bench`'s option check), the median cost of the results told so far. Set it to the
device budget you mean.

Failed candidates (`{"failed": ...}`, or a non-finite value in an objective the reward reads)
get the reward's FLOOR, its worst value, and are never folded into the normalisation:
weighted 0, mnasnet 0, monas_mixed -(1 - alpha), the threshold variants their `penalty`.

Hard limits (`--constraint`, hwnas.core.feasibility): a candidate past a limit gets MONAS's
threshold form, the penalty -- the reward's floor -- lowered by how far past the limit it is
(its relative violation, at most 1), as MnasNet's hard form (w = -1) falls with LAT/T past
T: below every feasible and every failed candidate, and steeper the further past, so a
controller learns which way the limit is. A candidate ruled out before training has no
accuracy for MnasNet's product, so one form serves both kinds. Infeasible results are never
folded into the normalisation either.

Normalisation is over the successful results told so far, so a reward is a deterministic
function of the results told (what resuming a run needs); it moves as the range widens.
"""

from __future__ import annotations

import math

import numpy as np

from hwnas.core.failure import is_failed
from hwnas.core.feasibility import is_infeasible, violation
from hwnas.errors import BadInputError
from hwnas.objectives import Objective
from hwnas.options import Option, option_error

REWARDS = ("weighted", "mnasnet", "monas_mixed", "monas_cost_threshold",
           "monas_accuracy_threshold")
READS_TARGET = ("mnasnet", "monas_cost_threshold")  # the rewards that read `target_ms`
MNASNET_SOFT_W = -0.07  # MnasNet's soft constraint: alpha = beta = w
MNASNET_CONSTRAINTS = {"soft": (MNASNET_SOFT_W, MNASNET_SOFT_W), "hard": (0.0, -1.0)}
TARGET_SAMPLES = 32
# The value of a violated MONAS threshold when `penalty` is not given, the least a satisfied one
# can earn: monas_cost_threshold pays the accuracy (>= 0), monas_accuracy_threshold pays minus
# the normalised cost (>= -1).
DEFAULT_PENALTY = {"monas_cost_threshold": 0.0, "monas_accuracy_threshold": -1.0}

# Declared once, shared by every strategy that learns from a scalar reward.
REWARD_OPTIONS = {
    "reward": Option("weighted", str, choices=REWARDS,
                     help="how an architecture's objectives become one reward"),
    "weights": Option(None, str, none_ok=True,
                      help="weighted: comma-separated weights, one per objective (None: equal)"),
    "constraint": Option("soft", str, choices=tuple(MNASNET_CONSTRAINTS),
                         help="mnasnet: soft (a=b=reward_w) or hard (a=0, b=-1)"),
    "target_ms": Option(None, float, low=0, low_open=True, none_ok=True, old_names=("target",),
                        help="mnasnet T / monas_cost_threshold threshold, in the cost's unit "
                             "(None: median cost of the space)"),
    "reward_w": Option(MNASNET_SOFT_W, float, high=0,
                       help="mnasnet, constraint=soft: w in ACC*(LAT/T)^w"),
    "alpha": Option(0.5, float, low=0, high=1,
                    help="monas_mixed: R = alpha*ACC - (1-alpha)*COST (both normalised)"),
    "accuracy_target": Option(None, float, none_ok=True,
                              help="monas_accuracy_threshold: the accuracy to reach"),
    "penalty": Option(None, float, none_ok=True,
                      help="monas threshold rewards: the reward of a violation (None: 0 for "
                           "monas_cost_threshold, -1 for monas_accuracy_threshold)"),
    "accuracy": Option(None, str, none_ok=True,
                       help="the run's objective read as accuracy (None: first to maximise)"),
    "cost": Option(None, str, none_ok=True,
                   help="the run's objective read as cost: latency, energy, peak memory ... "
                        "(None: first latency-like (mnasnet) / energy-like (monas) to minimise)"),
}


# -- the rewards themselves, at hand-checkable points ---------------------------------------
def mnasnet_reward(accuracy: float, latency_ms: float, target_ms: float,
                   alpha: float = MNASNET_SOFT_W, beta: float = MNASNET_SOFT_W) -> float:
    """MnasNet: ACC(m) * (LAT(m)/T)^w, w = alpha if LAT <= T else beta.

    alpha = beta = -0.07 is the paper's soft constraint; alpha = 0, beta = -1 its hard one.
    """
    if target_ms <= 0 or latency_ms <= 0:
        raise BadInputError(f"MnasNet reward needs positive latency and target; got "
                            f"latency {latency_ms}, target {target_ms}")
    w = alpha if latency_ms <= target_ms else beta
    return accuracy * (latency_ms / target_ms) ** w


def weighted_reward(result: dict, objectives: list[Objective], weights: list[float],
                    scales: dict[str, float] | None = None) -> float:
    """Sum of sign * weight * value / scale: larger is better for every objective."""
    scales = scales or {}
    return sum(o.sign * w * result[o.name] / scales.get(o.name, 1.0)
               for o, w in zip(objectives, weights, strict=True))


def monas_mixed_reward(accuracy: float, cost: float, alpha: float) -> float:
    """MONAS's mixed reward (Hsu et al., 2018, section 3): R = alpha*Accuracy - (1-alpha)*Energy,
    the energy (here: the chosen cost) normalised. hwnas normalises both terms to [0, 1] over
    the results told, so alpha trades them on one scale whatever the units (percent or
    fraction, mJ or ms)."""
    return alpha * accuracy - (1.0 - alpha) * cost


def monas_cost_threshold_reward(accuracy: float, cost: float, threshold: float,
                                penalty: float = 0.0) -> float:
    """MONAS's threshold-gated reward (section 3): only accuracy is rewarded while the cost
    (the paper's peak power) is within the threshold; a violation gets `penalty`."""
    return accuracy if cost <= threshold else penalty


def monas_accuracy_threshold_reward(accuracy: float, cost: float, threshold: float,
                                    penalty: float = -1.0) -> float:
    """The converse gate (section 3): once the accuracy reaches the threshold, only a lower
    cost (normalised energy) is rewarded, R = -cost; below it the reward is `penalty`."""
    return -cost if accuracy >= threshold else penalty


def parse_weights(text: str | None) -> list[float] | None:
    """'0.7,0.3' -> [0.7, 0.3]; None -> None. Raises ValueError on anything else."""
    if text is None:
        return None
    weights = [float(part) for part in text.split(",") if part.strip()]
    if not weights or any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(text)
    return weights


def check_reward_options(owner: str, resolved: dict) -> None:
    """Constraints between the reward options, in the option template."""
    try:
        parse_weights(resolved["weights"])
    except ValueError:
        raise option_error("weights", owner, "comma-separated numbers >= 0, not all 0, "
                           "e.g. '0.7,0.3'", resolved["weights"]) from None
    if resolved["constraint"] == "hard" and resolved["reward_w"] != MNASNET_SOFT_W:
        # read only by the soft constraint: silently ignoring it would be another reward
        raise option_error("reward_w", owner, f"{MNASNET_SOFT_W:g} (the default) with "
                           "constraint='hard', whose exponents are 0 and -1",
                           resolved["reward_w"], "drop reward_w, or use constraint=soft")
    if resolved["reward"] == "monas_accuracy_threshold" and resolved["accuracy_target"] is None:
        raise option_error("accuracy_target", owner,
                           "a number with reward='monas_accuracy_threshold'", None,
                           "e.g. --strategy-opt accuracy_target=90")


def _role(objectives: list[Objective], name: str | None, role: str, direction: str,
          prefer: tuple[str, ...]) -> str:
    names = [o.name for o in objectives]
    if name is None:
        candidates = [o.name for o in objectives if o.direction == direction]
        name = next((n for p in prefer for n in candidates if n.startswith(p)),
                    candidates[0] if candidates else None)
    if name is None or name not in names:
        article = "an" if role[0] in "aeiou" else "a"
        raise BadInputError(f"the reward needs {article} {role} objective of the run; got "
                            f"{name!r}, the run's objectives are {', '.join(names)} (set the "
                            f"strategy option {role}=NAME)")
    return name


def reward_terms(objectives: list[Objective], accuracy: str | None = None,
                 cost: str | None = None) -> tuple[str, str]:
    """The run's objectives a MnasNet-style reward reads: (accuracy name, cost name).

    Defaults: the first objective to maximise, and the first to minimise whose name says
    latency (`latency_ms`, `latency:pixel3`), else the first to minimise. Names given (the
    options `accuracy` and `cost`) must be objectives of the run; rewards never assume
    `accuracy` / `latency_ms` exist.
    """
    acc = _role(objectives, accuracy, "accuracy", "max", ())
    cost = _role(objectives, cost, "cost", "min", ("latency",))
    if acc == cost:
        raise BadInputError(f"the reward needs two different objectives; got {acc!r} for both "
                            "accuracy and cost")
    return acc, cost


class Rewarder:
    """One reward per result under the `reward` options; `observe` the results first."""

    def __init__(self, objectives: list[Objective], options: dict, *, space=None, costs=None,
                 seed: int = 0):
        self.objectives = list(objectives)
        self.kind = options["reward"]
        self.options = options
        self.space, self.costs, self.seed = space, costs, seed
        self.lo: dict[str, float] = {}
        self.hi: dict[str, float] = {}
        self._told_costs: list[float] = []
        self._target = options["target_ms"]
        if self.kind == "weighted":
            weights = parse_weights(options["weights"]) or [1.0] * len(self.objectives)
            if len(weights) != len(self.objectives):
                raise BadInputError(f"the 'weights' option gives {len(weights)} weights; the "
                                    f"run has {len(self.objectives)} objectives "
                                    f"({', '.join(o.name for o in self.objectives)})")
            self.weights = weights
            self.reads = [o.name for o in self.objectives]
            return
        prefer = ("latency",) if self.kind == "mnasnet" else ("energy", "latency")
        self.acc = _role(self.objectives, options["accuracy"], "accuracy", "max", ())
        self.cost = _role(self.objectives, options["cost"], "cost", "min", prefer)
        if self.acc == self.cost:
            raise BadInputError(f"the reward needs two different objectives; got {self.acc!r} "
                                "for both accuracy and cost")
        self.reads = [self.acc, self.cost]
        self.penalty = (options["penalty"] if options["penalty"] is not None
                        else DEFAULT_PENALTY.get(self.kind, 0.0))

    # -- what the strategies call -----------------------------------------------------------
    @property
    def floor(self) -> float:
        """The reward of a failed candidate: the worst this reward gives."""
        if self.kind in ("weighted", "mnasnet"):
            return 0.0
        if self.kind == "monas_mixed":
            return -(1.0 - self.options["alpha"])
        return float(self.penalty)

    def past_limit(self, result: dict) -> float:
        """The reward of a result past a hard limit (module docstring)."""
        return self.floor - min(violation(result), 1.0)

    def usable(self, result: dict) -> bool:
        return (not is_failed(result) and not is_infeasible(result)
                and all(isinstance(result.get(n), (int, float)) and math.isfinite(result[n])
                        for n in self.reads))

    def observe(self, results: list[dict]) -> None:
        """Widen the normalisation ranges with the successful results; failures are skipped."""
        for result in results:
            if not self.usable(result):
                continue
            for o in self.objectives:
                value = result.get(o.name)
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self.lo[o.name] = min(self.lo.get(o.name, value), float(value))
                    self.hi[o.name] = max(self.hi.get(o.name, value), float(value))
            if self.kind != "weighted":
                self._told_costs.append(float(result[self.cost]))

    def __call__(self, result: dict) -> float:
        if is_infeasible(result):
            return self.past_limit(result)
        if not self.usable(result):
            return self.floor
        if self.kind == "weighted":
            shifted = {o.name: result[o.name] - (self.lo.get(o.name, result[o.name])
                                                 if o.direction == "max"
                                                 else self.hi.get(o.name, result[o.name]))
                       for o in self.objectives}
            spans = {o.name: self._span(o.name) for o in self.objectives}
            flat = {n for n, s in spans.items() if s is None}  # one value so far: the middle
            value = weighted_reward(shifted, self.objectives, self.weights,
                                    {n: s or 1.0 for n, s in spans.items()})
            value += sum(0.5 * w for o, w in zip(self.objectives, self.weights, strict=True)
                         if o.name in flat)
            return float(min(max(value / sum(self.weights), 0.0), 1.0))
        acc, cost = float(result[self.acc]), float(result[self.cost])
        if self.kind == "mnasnet":
            if cost <= 0:  # (LAT/T)^w is undefined: no usable latency
                return self.floor
            w = self.options["reward_w"]
            alpha, beta = ((w, w) if self.options["constraint"] == "soft"
                           else MNASNET_CONSTRAINTS["hard"])
            return float(mnasnet_reward(acc, cost, self.target(), alpha, beta))
        if self.kind == "monas_mixed":
            return float(monas_mixed_reward(self.unit(self.acc, acc), self.unit(self.cost, cost),
                                            self.options["alpha"]))
        if self.kind == "monas_cost_threshold":
            return float(monas_cost_threshold_reward(acc, cost, self.target(), self.penalty))
        return float(monas_accuracy_threshold_reward(acc, self.unit(self.cost, cost),
                                                     self.options["accuracy_target"],
                                                     self.penalty))

    # -- helpers ----------------------------------------------------------------------------
    def _span(self, name: str) -> float | None:
        lo, hi = self.lo.get(name), self.hi.get(name)
        return None if lo is None or hi is None or hi <= lo else hi - lo

    def unit(self, name: str, value: float) -> float:
        """`value` min-max normalised over the results told ([0, 1]); 0.5 with one value."""
        span = self._span(name)
        if span is None:
            return 0.5
        return float(min(max((value - self.lo[name]) / span, 0.0), 1.0))

    def target(self) -> float:
        """T: the option, else the median cost of the space (cost model), else of the told."""
        if self._target is not None:
            return float(self._target)
        if self.costs is not None and self.space is not None and self.costs.knows([self.cost]):
            rng = np.random.default_rng([self.seed, 1806])  # its own draw: self.rng untouched
            values = [self.costs.costs(self.space.sample(rng))[self.cost]
                      for _ in range(TARGET_SAMPLES)]
            values = [v for v in values if math.isfinite(v) and v > 0]
            if values:
                self._target = float(np.median(values))
                return self._target
        told = [c for c in self._told_costs if c > 0]
        if not told:
            raise BadInputError("the reward needs a target cost: set the strategy option "
                                "target_ms=VALUE")
        return float(np.median(told))
