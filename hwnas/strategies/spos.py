"""`spos`: Single Path One-Shot NAS with uniform sampling (Guo et al., 2019).

Two stages, both inside the first `ask`:

1. Supernet training: one supernet of the space (hwnas.oneshot.supernet) trained for `epochs`
   epochs, each minibatch on ONE path drawn uniformly at every position, one SGD step on that
   path's weights (hwnas.oneshot.single_path.train_uniform, the same code as the `shared`
   estimator's).
2. Evolution over the trained supernet, as the paper's Algorithm 1 and code: a random initial
   population; each generation keeps the `parents` best candidates scored so far (top-k),
   breeds half of the next population by crossover (two parents from the top-k, each position
   from either) and half by mutation (a top-k parent, each position redrawn with probability
   `mutation_prob`), and fills the rest at random. A candidate's fitness is its accuracy with
   the weights it INHERITS from the supernet, BatchNorm statistics re-estimated for it on
   `bn_batches` training minibatches (no optimiser step: nothing is trained while searching),
   on the held-out split. Each architecture is scored once. With `limit_ms`, a candidate whose
   table latency exceeds it is discarded before it is scored (the paper's hard constraint) and
   the fitness is the accuracy; without, the fitness is the run's `reward` option over the
   shared-weight accuracy and the cost model's costs (as `reinforce` and `enas` combine them).
   The run's hard limits on costs known before training (`--constraint latency_ms<=3`,
   params, ...) are checked the same way, so the top-k is feasible first by construction
   (Deb's rules with nothing infeasible left to compare) and only feasible candidates are
   proposed.

The best `top` candidates by fitness are proposed, one per `ask`, to the run's final
estimator. Per generation the best and top-k fitness, the candidates scored and those refused
by the target go to `strategy/log.json` (files and resume: hwnas.strategies.weight_sharing).

SPOS uses population 50, 20 generations, top-k 10, mutation probability 0.1, 25 + 25 children.
The defaults here (population 16, 8 generations, top-k 5, probability 0.1) are scaled down so
that a search on digits takes minutes on 2 CPU cores; the paper's are one option away.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import BadInputError, HwnasRuntimeError
from hwnas.limits import MAX_POPULATION, MAX_STEPS
from hwnas.options import Option, option_error
from hwnas.registry import STRATEGIES
from hwnas.rewards import READS_TARGET
from hwnas.strategies.rewarded import REWARD_OPTIONS, RewardedStrategy
from hwnas.strategies.weight_sharing import ACCURACY, SUPERNET_OPTIONS, WeightSharingSearch

TRIES_PER_CHILD = 10  # SPOS's code: at most 10x the wanted number of draws per operator
FEASIBLE_PROBES = 200  # random draws that must find one architecture within limit_ms


@STRATEGIES.register("spos")
class SPOS(WeightSharingSearch, RewardedStrategy):
    """SPOS: uniform single-path supernet, then evolution with inherited weights as fitness."""

    plot_style = {"color": "#e6550d", "marker": "H"}

    option_specs = {
        **SUPERNET_OPTIONS,
        "population": Option(16, int, low=2, high=MAX_POPULATION, help="SPOS: 50",
                             aliases=("popsize", "population_size", "pop")),
        "iterations": Option(8, int, low=1, high=MAX_STEPS, help="generations (SPOS: 20)"),
        "parents": Option(5, int, low=1, high=MAX_POPULATION,
                          help="top-k the next generation is bred from (SPOS: 10)"),
        "mutation_prob": Option(0.1, float, low=0, high=1,
                                help="per-position redraw probability of a mutation"),
        # A hard limit, not a target: `limit_ms` (it was `target_ms` until issue 30 gave that
        # name to every reward's target T, REWARD_OPTIONS' own here).
        "limit_ms": Option(None, float, low=0, low_open=True, none_ok=True,
                           old_names=("target_ms",),
                           help="hard limit on table latency, checked before scoring"),
        **REWARD_OPTIONS,
    }

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        super().check_options(resolved)
        if resolved["parents"] > resolved["population"]:
            raise option_error("parents", cls.owner(), f"<= population "
                               f"({resolved['population']})", resolved["parents"])
        if resolved["target_ms"] is not None and resolved["reward"] not in READS_TARGET:
            # `--target-ms 3` was SPOS's hard limit until this release: never ignore it
            raise option_error("target_ms", cls.owner(), "None with reward="
                               f"{resolved['reward']!r} (the target T of reward=mnasnet or "
                               "monas_cost_threshold)", resolved["target_ms"],
                               "For a hard latency limit use --strategy-opt limit_ms=VALUE.")

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        target = self.options["limit_ms"]
        if target is not None:
            if not self.costs.knows(["latency_ms"]):
                raise BadInputError("spos: limit_ms needs table latencies (--table, made by "
                                    "`hwnas profile`)")
            self._check_feasible(target)

    def _check_feasible(self, target: float) -> None:
        """Refuse a target no architecture meets now, not after the supernet's training."""
        rng = np.random.default_rng([self.seed, 2019])  # a draw of its own: self.rng untouched
        cheapest = float("inf")
        for _ in range(FEASIBLE_PROBES):
            latency = self.latency(self.space.sample(rng))
            if latency <= target:
                return
            cheapest = min(cheapest, latency)
        raise BadInputError(f"spos: none of {FEASIBLE_PROBES} random architectures is within "
                            f"limit_ms={target:g} (the fastest: {cheapest:.4g} ms); raise "
                            "--strategy-opt limit_ms")

    def latency(self, arch: Arch) -> float:
        return float(self.costs.costs(arch)["latency_ms"])

    # -- the search ---------------------------------------------------------------------------
    def _search(self) -> tuple[list[dict], dict]:
        import torch

        from hwnas.nn import train as nt
        from hwnas.oneshot.single_path import (
            calibration_batches,
            inherited_accuracy,
            train_uniform,
        )

        o = self.options
        wx, wy, ax, ay = self._split_data()
        device = torch.device(o["device"])
        supernet_log = []

        def on_epoch(epoch, stats):
            supernet_log.append({"epoch": epoch, "train_loss": stats.loss,
                                 "train_acc": stats.accuracy})
            self._report(f"supernet epoch {epoch + 1}/{o['epochs']}: loss {stats.loss:.3f} "
                         f"acc {stats.accuracy:.3f}", epoch=epoch)

        with nt.torch_threads(o["threads"]), nt.forked_rng(device), \
                nt.deterministic_cudnn(device):
            supernet, stats = train_uniform(self.space, wx, wy, self._train_config(),
                                            seed=self.seed, device=device, on_epoch=on_epoch,
                                            weights=o["supernet_weights"],
                                            kernel_transform=o["kernel_transform"])
            if stats[-1].diverged:
                raise HwnasRuntimeError(f"spos: the supernet diverged (loss {stats[-1].loss} in "
                                        f"epoch {len(stats)}); lower --strategy-opt lr")
            calib = calibration_batches(wx, o["batch_size"], o["bn_batches"], self.seed)
            scored, generations = self._evolve(
                lambda arch: self._objectives_of(
                    arch, inherited_accuracy(supernet, arch, calib, ax, ay)))
        ranked = self._ranked(scored)
        return self._proposable(ranked)[:o["top"]], {"supernet": supernet_log,
                                                     "generations": generations,
                                                     "ranked": ranked}

    def _evolve(self, score: Callable[[Arch], dict]) -> tuple[dict[str, dict], list[dict]]:
        """SPOS's evolution with `score(arch) -> objectives` as the only look at a candidate;
        returns every scored candidate (key -> {"arch", "objectives", "generation"}) and the
        per-generation log."""
        o = self.options
        target = o["limit_ms"]
        seen: set[str] = set()
        scored: dict[str, dict] = {}
        counts = {"refused_by_target": 0}
        generation = 0

        def admit(arch: Arch) -> bool:
            """SPOS's legality check: new, within the target (before scoring), then scored."""
            if arch.key in seen:
                return False
            seen.add(arch.key)
            if (target is not None and self.latency(arch) > target) \
                    or self.known_violation(arch) > 0:
                counts["refused_by_target"] += 1
                return False
            result = score(arch)
            self.rewarder.observe([result])
            scored[arch.key] = {"arch": arch, "objectives": result, "generation": generation}
            return True

        def breed(n: int, make: Callable[[], Arch]) -> int:
            made = 0
            for _ in range(TRIES_PER_CHILD * n):
                if made == n:
                    break
                made += admit(make())
            return made

        population = breed(o["population"], lambda: self.space.sample(self.rng))
        log = [self._generation_entry(0, scored, population, counts)]
        for generation in range(1, o["iterations"] + 1):
            parents = [scored[k]["arch"] for k in self._top_keys(scored, o["parents"])]
            if not parents:
                break  # nothing scored (every draw refused by the target)
            half = o["population"] // 2
            made = breed(half, lambda p=parents: self._mutant(p))
            made += breed(o["population"] - half, lambda p=parents: self._crossover(p))
            # what the operators could not make new (a small space, a tight target): random
            made += breed(o["population"] - made, lambda: self.space.sample(self.rng))
            log.append(self._generation_entry(generation, scored, made, counts))
            self._report(f"generation {generation}/{o['iterations']}: best fitness "
                         f"{log[-1]['best_fitness']:.4g}, top-{o['parents']} mean "
                         f"{log[-1]['top_mean_fitness']:.4g}, {len(scored)} scored, "
                         f"{counts['refused_by_target']} over the target", epoch=generation)
        return scored, log

    # -- the operators (SPOS's code) -------------------------------------------------------
    def _mutant(self, parents: list[Arch]) -> Arch:
        parent = parents[self.rng.integers(len(parents))]
        values = dict(parent.values)
        for label, options in self._choices:
            if self.rng.random() < self.options["mutation_prob"]:
                values[label] = options[self.rng.integers(len(options))]
        return Arch(parent.space, values)

    def _crossover(self, parents: list[Arch]) -> Arch:
        a = parents[self.rng.integers(len(parents))]
        b = parents[self.rng.integers(len(parents))]
        values = {label: (a if self.rng.random() < 0.5 else b).values[label]
                  for label, _ in self._choices}
        return Arch(a.space, values)

    # -- fitness ----------------------------------------------------------------------------
    def fitness(self, objectives: dict) -> float:
        """Accuracy under a hard limit (SPOS); else the run's reward over the objectives."""
        if self.options["limit_ms"] is not None:
            return float(objectives[ACCURACY])
        return float(self.rewarder(objectives))

    def _top_keys(self, scored: dict[str, dict], k: int) -> list[str]:
        """The k best scored so far (SPOS keeps a global top-k), ties in scoring order."""
        keys = list(scored)
        values = [self.fitness(scored[key]["objectives"]) for key in keys]
        order = sorted(range(len(keys)), key=lambda i: -values[i])
        return [keys[i] for i in order[:k]]

    def _ranked(self, scored: dict[str, dict]) -> list[dict]:
        return [{"arch": scored[k]["arch"].to_dict(),
                 "shared_accuracy": scored[k]["objectives"][ACCURACY],
                 "fitness": self.fitness(scored[k]["objectives"]),
                 "objectives": scored[k]["objectives"], "generation": scored[k]["generation"]}
                for k in self._top_keys(scored, len(scored))]

    def _generation_entry(self, generation: int, scored: dict, made: int, counts: dict) -> dict:
        top = self._top_keys(scored, self.options["parents"])
        values = [self.fitness(scored[k]["objectives"]) for k in top]
        return {"generation": generation, "new": made, "scored": len(scored),
                "refused_by_target": counts["refused_by_target"],
                "best_fitness": values[0] if values else None,
                "top_mean_fitness": float(np.mean(values)) if values else None,
                "best": scored[top[0]]["objectives"] if top else None}
