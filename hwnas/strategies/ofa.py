"""`ofa`: once-for-all (Cai et al., 2020): one elastic supernet, trained once with progressive
shrinking, then an evolutionary search per latency table with the weights sub-networks inherit.

Two stages, both inside the first `ask` (files and resume: hwnas.strategies.weight_sharing):

1. The elastic supernet of the space (hwnas.oneshot.progressive: nested kernels and
   expansions, elastic depth as trailing `zero`s in a stage) trained by progressive shrinking:
   the full network, then elastic kernel, depth, expansion, with knowledge distillation from
   the full network, for `epochs` epochs shared among the phases as the paper's epochs are.
   Its weights go to `strategy/supernet.pt` and what it was trained on to
   `strategy/supernet.json` (written last). Another run reuses it with
   `--strategy-opt supernet=RUN` (an earlier ofa run's folder, or its supernet.pt): nothing is
   trained, the supernet must have been trained on this run's space, dataset, search
   resolution, images and split (else refused in one line, before anything is written);
   `hwnas search --method ofa --table A --table B` does that for every table after the first.
2. Once-for-all's evolution finder on the run's own table: a random population of sub-networks
   within the efficiency constraint (drawn again until within, at most TRIES times); each
   generation keeps the top `parent_ratio` as parents, adds `mutation_ratio` x population
   mutants of random parents (every kernel, expansion and depth gene redrawn with probability
   `mutation_prob`) and crossovers of two random parents for the rest, each redrawn until
   within the constraint. What it ranks by (`accuracy`):
   - `predictor` (default, the paper's): once-for-all's accuracy predictor
     (hwnas.oneshot.accuracy_predictor), an MLP fitted on `predictor_samples` random
     sub-networks measured as below. The samples are measured once per supernet and kept
     beside it (`strategy/accuracy_samples.json`): a run that reuses the supernet reads them,
     so its search costs predictions only;
   - `inherited`: every candidate measured: the accuracy a sub-network gets with the weights it
     inherits, BatchNorm re-estimated on `bn_batches` training minibatches (once-for-all's
     `set_running_statistics`), on the held-out split; each architecture measured once.
   The proposals' inherited accuracy is measured either way (`shared_accuracy` in the run
   history, beside the `fitness` the search ranked them by).

The efficiency constraint is the table's latency: `limit_ms`, and the run's limits on costs
known before training (`--constraint latency_ms<=T`, params, ...). With a latency limit, one
evolution under it; its best `top` are proposed. Without one the run asks for a front, and
once-for-all's answer to "a network for every constraint" is applied: `top` constraints evenly
spaced between the table latencies of the smallest sub-network and the full network, one
evolution under each, and the best sub-network under each constraint proposed (scores are
shared between the evolutions: one supernet). The proposals go to the run's final estimator
as every weight-sharing search's do.

Scaled down: once-for-all's finder uses population 100, 500 generations, parent ratio 0.25,
mutation ratio 0.5, mutation probability 0.1, and a predictor fitted on 16K sub-networks; the
defaults here keep the ratios and population 100 with 50 generations on the predictor (16 and 8
when each candidate is measured), 200 samples, so that a search on digits takes seconds; its
best is the best of the final population (the reference code reports the best parent before
the last children).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import BadInputError, HwnasRuntimeError
from hwnas.limits import MAX_EPOCHS, MAX_POPULATION, MAX_STEPS
from hwnas.oneshot.supernet_store import SAMPLES_FILE, SUPERNET_FILE, SUPERNET_RECORD, reusable
from hwnas.options import Option, option_error
from hwnas.registry import STRATEGIES
from hwnas.strategies.base import Strategy
from hwnas.strategies.weight_sharing import SUPERNET_OPTIONS, WeightSharingSearch

TRIES = 100  # draws per wanted sub-network within the constraint (the reference: unbounded)
TRAINING = ("epochs", "batch_size", "lr", "weight_decay", "kd_ratio", "seed")
RANKED_LOGGED = 50  # the best candidates kept in log.json (the predictor scores thousands)
ACCURACY_MODES = ("predictor", "inherited")
# population and generations by what a candidate costs: a prediction, or a measurement
SEARCH_SIZES = {"predictor": (100, 50), "inherited": (16, 8)}


@STRATEGIES.register("ofa")
class OFA(WeightSharingSearch, Strategy):
    """Once-for-all: progressive shrinking once, evolution per table on inherited accuracy."""

    plot_style = {"color": "#31a354", "marker": "1"}
    presets = {"fast": {"epochs": 10, "resolution": 16, "train_subset": 768}}

    option_specs = {
        **{k: v for k, v in SUPERNET_OPTIONS.items() if k != "supernet_weights"},
        "epochs": Option(20, int, low=1, high=MAX_EPOCHS,
                         help="progressive shrinking's epochs, all phases together (shared as "
                              "the paper's 180/120/25+120/25+120)"),
        "lr": Option(0.05, float, low=0, low_open=True,
                     help="the full network's initial rate; the elastic phases' follow the "
                          "paper's ratios"),
        "kd_ratio": Option(1.0, float, low=0,
                           help="weight of the distillation loss from the full network"),
        "accuracy": Option("predictor", str, choices=ACCURACY_MODES,
                           help="what the evolution ranks by: predictor = once-for-all's MLP "
                                "fitted on measured sub-networks; inherited = each candidate "
                                "measured"),
        "predictor_samples": Option(200, int, low=10, high=MAX_POPULATION,
                                    help="sub-networks measured to fit the predictor, once "
                                         "per supernet (once-for-all: 16000)"),
        "population": Option(None, int, low=2, high=MAX_POPULATION, none_ok=True,
                             help="default 100 (once-for-all's) with the predictor, 16 with "
                                  "inherited accuracy",
                             aliases=("popsize", "population_size", "pop")),
        "iterations": Option(None, int, low=1, high=MAX_STEPS, none_ok=True,
                             help="generations; default 50 with the predictor, 8 with "
                                  "inherited accuracy (once-for-all: 500)"),
        "parent_ratio": Option(0.25, float, low=0, low_open=True, high=1),
        "mutation_ratio": Option(0.5, float, low=0, high=1),
        "mutation_prob": Option(0.1, float, low=0, high=1,
                                help="per-gene redraw probability of a mutation"),
        "limit_ms": Option(None, float, low=0, low_open=True, none_ok=True,
                           help="efficiency constraint on table latency (default: a front, "
                                "one constraint per proposal)"),
        "supernet": Option(None, str, none_ok=True, path=True,
                           help="an earlier ofa run (or its strategy/supernet.pt) whose "
                                "supernet is searched instead of training one"),
    }

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        super().check_options(resolved)
        if resolved["supernet"] is not None and not str(resolved["supernet"]).strip():
            raise option_error("supernet", cls.owner(), "a run's folder or a supernet.pt",
                               resolved["supernet"])

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        from hwnas.oneshot.progressive import ElasticLayout

        self.layout = ElasticLayout.of(space)
        if not self.costs.knows(["latency_ms"]):
            raise BadInputError("ofa searches under table latencies: pass --table (made by "
                                "`hwnas profile`)")
        if self.options["limit_ms"] is not None:
            self._check_feasible(self.options["limit_ms"])
        self._reused: tuple[Path, dict] | None = None
        if self.options["supernet"] is not None:
            self._reused = reusable(self.options["supernet"], self.trained_on())
        self.memo: dict[str, float] = {}  # inherited accuracy per architecture, this run
        self.training_logs: list = []  # progressive shrinking's phases, when trained here

    def _check_feasible(self, limit: float) -> None:
        """Refuse a limit no sub-network meets now, not after the supernet's training."""
        rng = np.random.default_rng([self.seed, 2020])  # a draw of its own: self.rng untouched
        draws = [self.layout.smallest()] + [self.layout.sample(rng) for _ in range(200)]
        fastest = min(self.latency(self.layout.arch(g)) for g in draws)
        if fastest > limit:
            raise BadInputError(f"ofa: no sub-network of {len(draws)} tried (the smallest "
                                f"included) is within limit_ms={limit:g} (the fastest: "
                                f"{fastest:.4g} ms); raise --strategy-opt limit_ms")

    # -- what the supernet is trained on ---------------------------------------------------------
    def trained_on(self) -> dict:
        o = self.options
        return {"space": self.space.name, "space_config": json.loads(json.dumps(
                    self.space.config())),
                "dataset": self.context.dataset,
                "resolution": o["resolution"] or int(self.space.input_shape[-1]),
                **{k: o[k] for k in ("train_subset", "arch_split", "kernel_transform")},
                **{k: o[k] for k in TRAINING if k != "seed"}, "seed": self.seed}

    # -- the search ---------------------------------------------------------------------------
    def _search(self) -> tuple[list[dict], dict]:
        import torch

        from hwnas.nn import train as nt
        from hwnas.oneshot.single_path import calibration_batches, inherited_accuracy

        o = self.options
        wx, wy, ax, ay = self._split_data()
        device = torch.device(o["device"])
        with nt.torch_threads(o["threads"]), nt.forked_rng(device), \
                nt.deterministic_cudnn(device):
            supernet, training = self._supernet(wx, wy, device)
            start = time.perf_counter()
            calib = calibration_batches(wx, o["batch_size"], o["bn_batches"], self.seed)

            def inherited(arch: Arch) -> float:
                if arch.key not in self.memo:
                    self.memo[arch.key] = inherited_accuracy(supernet, arch, calib, ax, ay)
                return self.memo[arch.key]

            predictor_log = None
            accuracy: Callable[[Arch], float] = inherited
            if o["accuracy"] == "predictor":
                accuracy, predictor_log = self._predictor(inherited)
            search_start = time.perf_counter()
            proposals, search_log = self.specialise(accuracy)
            search_log["evolution_seconds"] = time.perf_counter() - search_start
            for p in proposals:  # what the proposals get with inherited weights, measured
                p["shared_accuracy"] = inherited(Arch.from_dict(p["arch"]))
        search_log["seconds"] = time.perf_counter() - start
        return proposals, {"supernet": training, "predictor": predictor_log,
                           "search": search_log}

    def _predictor(self, inherited: Callable[[Arch], float]
                   ) -> tuple[Callable[[Arch], float], dict]:
        """Once-for-all's accuracy predictor on `predictor_samples` random sub-networks
        measured with `inherited` (read back when this supernet's were measured before), and
        the predictor as the evolution's accuracy."""
        from hwnas.fileio import atomic_write_json
        from hwnas.oneshot.accuracy_predictor import fit_predictor

        n = self.options["predictor_samples"]
        start = time.perf_counter()
        sources = [] if self._reused is None else [self._reused[0].with_name(SAMPLES_FILE)]
        if self.context.workdir is not None:
            sources.append(self.context.workdir / SAMPLES_FILE)
        samples = None
        for path in sources:
            if path.is_file():
                saved = json.loads(path.read_text())
                if saved.get("seed") == self.seed and len(saved.get("samples", [])) >= n:
                    samples, where = saved["samples"][:n], str(path)
                    break
        if samples is None:
            rng = np.random.default_rng([self.seed, 16000])  # table-independent draws
            genomes = [self.layout.sample(rng) for _ in range(n)]
            samples = [{"genome": g, "accuracy": inherited(self.layout.arch(g))}
                       for g in genomes]
            where = "measured"
            if self.context.workdir is not None:
                self.context.workdir.mkdir(parents=True, exist_ok=True)
                atomic_write_json(self.context.workdir / SAMPLES_FILE,
                                  {"seed": self.seed, "samples": samples})
        measured = time.perf_counter() - start
        predictor, report = fit_predictor(self.layout, [s["genome"] for s in samples],
                                          [s["accuracy"] for s in samples], self.seed)
        self._report(f"accuracy predictor on {len(samples)} sub-networks: held-out Kendall "
                     f"tau {report['kendall_tau']}", epoch=0)
        cache: dict[str, float] = {}

        def predicted(arch: Arch) -> float:
            if arch.key not in cache:
                genome = self.layout.genome(arch)
                assert genome is not None  # the evolution stays in the sub-space
                cache[arch.key] = float(predictor.predict([genome])[0])
            return cache[arch.key]

        return predicted, {"samples": len(samples), "from": where,
                           "samples_seconds": measured,
                           "fit_seconds": time.perf_counter() - start - measured, **report}

    def _supernet(self, x, y, device):
        """(the trained supernet, its log): reused, resumed from this run's own file, or
        trained by progressive shrinking and saved."""
        import torch

        from hwnas.fileio import atomic_write_json
        from hwnas.oneshot.progressive import schedule, train_progressive
        from hwnas.oneshot.supernet import Supernet

        o = self.options
        torch.manual_seed(self.seed)  # weight init (the caller forked the global RNG)
        supernet = Supernet(self.space, "entangled", o["kernel_transform"]).to(device)
        workdir = self.context.workdir
        own = None if workdir is None else workdir / SUPERNET_RECORD
        if self._reused is None and own is not None and own.is_file():
            record = json.loads(own.read_text())
            if record.get("trained_on") == self.trained_on():  # killed after training
                self._reused = (own.with_name(SUPERNET_FILE), record)
        if self._reused is not None:
            weights, record = self._reused
            start = time.perf_counter()
            supernet.load_state_dict(torch.load(weights, map_location=device,
                                                weights_only=True))
            self._report(f"supernet loaded from {weights} (trained once, not again)", epoch=0)
            return supernet, {"reused": str(weights), "load_seconds":
                              time.perf_counter() - start, **record}
        phases = schedule(self.layout)
        start = time.perf_counter()

        def on_phase(log):
            self._report(f"progressive shrinking, phase {log.name}: {log.steps} steps, loss "
                         f"{log.loss:.3f} (kd {log.kd:.3f})", epoch=len(logs_seen))
            logs_seen.append(log.name)

        logs_seen: list[str] = []
        logs = train_progressive(supernet, self.layout, x, y, self._train_config(),
                                 seed=self.seed, kd_ratio=o["kd_ratio"], on_phase=on_phase)
        if any(not np.isfinite(log.loss) for log in logs):
            raise HwnasRuntimeError(f"ofa: progressive shrinking diverged in phase "
                                    f"{logs[-1].name}; lower --strategy-opt lr")
        record = {"trained_on": self.trained_on(),
                  "schedule": [p.describe() for p in phases],
                  "phases": [log.record() for log in logs],
                  "seconds": time.perf_counter() - start}
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
            torch.save(supernet.state_dict(), workdir / SUPERNET_FILE)
            atomic_write_json(workdir / SUPERNET_RECORD, record)  # last: marks it finished
        self.training_logs = logs  # in memory for tests: every sub-network each phase ran
        return supernet, record

    # -- specialisation: the constraints, one evolution each ---------------------------------
    def latency(self, arch: Arch) -> float:
        return float(self.costs.costs(arch)["latency_ms"])

    def constraints_ms(self) -> list[float | None]:
        """One latency constraint per evolution: `limit_ms` or a run's latency limit (None:
        the run's limits alone), else `top` evenly spaced constraints for a front."""
        if self.options["limit_ms"] is not None or any(
                c.name == "latency_ms" for c in self.known_limits):
            return [self.options["limit_ms"]]
        low = self.latency(self.layout.arch(self.layout.smallest()))
        high = self.latency(self.layout.arch(self.layout.full()))
        top = self.options["top"]
        return [low + (high - low) * (i + 1) / top for i in range(top)]

    def within(self, arch: Arch, limit: float | None) -> bool:
        return (limit is None or self.latency(arch) <= limit) and self.known_violation(arch) == 0

    def specialise(self, accuracy: Callable[[Arch], float]) -> tuple[list[dict], dict]:
        """The proposals and the log: one evolution per constraint, `accuracy(arch)` the only
        look at a candidate."""
        limits = self.constraints_ms()
        scored: dict[str, dict] = {}
        runs = []
        for limit in limits:
            best, log = self.evolve(accuracy, limit, scored)
            runs.append({"limit_ms": limit, "best": best, "generations": log})
        ranked = sorted(scored.values(), key=lambda s: -s["accuracy"])
        if len(limits) == 1:
            chosen = [s for s in ranked if self.within(s["arch"], limits[0])]
        else:  # a front: the best under each constraint, each architecture once
            chosen, taken = [], set()
            for limit in limits:
                pick = next((s for s in ranked if s["arch"].key not in taken
                             and self.within(s["arch"], limit)), None)
                if pick is not None:
                    taken.add(pick["arch"].key)
                    chosen.append({**pick, "limit_ms": limit})
        proposals = [self._proposal(s) for s in chosen][:self.options["top"]]
        return self._proposable(proposals) if proposals else [], {
            "constraints_ms": limits, "evolutions": runs, "scored": len(scored),
            "ranked": [self._proposal(s) for s in ranked[:RANKED_LOGGED]]}

    def _proposal(self, s: dict) -> dict:
        arch = s["arch"]
        out = {"arch": arch.to_dict(), "genome": s["genome"], "fitness": s["accuracy"],
               "table_latency_ms": self.latency(arch),
               "objectives": self._objectives_of(arch, s["accuracy"])}
        if "limit_ms" in s:
            out["limit_ms"] = s["limit_ms"]
        return out

    def evolve(self, accuracy: Callable[[Arch], float], limit: float | None,
               scored: dict[str, dict]) -> tuple[str | None, list[dict]]:
        """Once-for-all's evolution finder under `limit` (module docstring); every candidate
        scored goes to `scored` (key -> {"arch", "genome", "accuracy"}); returns the best
        candidate's key and the per-generation log."""
        o = self.options
        size, generations = self.search_sizes()
        n_parents = max(1, int(round(o["parent_ratio"] * size)))
        n_mutants = int(round(o["mutation_ratio"] * size))

        def admitted(make: Callable[[], dict]) -> tuple[float, dict] | None:
            """A sub-network within the constraint from `make`, drawn at most TRIES times."""
            for _ in range(TRIES):
                genome = make()
                arch = self.layout.arch(genome)
                if not self.within(arch, limit):
                    self.discarded += self.known_violation(arch) > 0
                    continue
                if arch.key not in scored:
                    scored[arch.key] = {"arch": arch, "genome": genome,
                                        "accuracy": float(accuracy(arch))}
                return scored[arch.key]["accuracy"], genome
            return None

        def fill(n: int, make: Callable[[], dict]) -> list[tuple[float, dict]]:
            return [c for c in (admitted(make) for _ in range(n)) if c is not None]

        population = fill(size, lambda: self.layout.sample(self.rng))
        smallest = self.layout.smallest()
        if not population and self.within(self.layout.arch(smallest), limit):
            population = fill(1, lambda: smallest)  # a tight constraint: its one sure member
        log = []
        for generation in range(generations):
            if not population:
                break
            parents = sorted(population, key=lambda c: -c[0])[:n_parents]
            log.append({"generation": generation, "best_accuracy": parents[0][0],
                        "parents_mean": float(np.mean([p[0] for p in parents])),
                        "population": len(population), "scored": len(scored)})
            def pick(parents=parents) -> dict:
                return parents[self.rng.integers(len(parents))][1]

            population = list(parents)
            population += fill(n_mutants, lambda: self.mutate(pick()))
            population += fill(size - n_mutants, lambda: self.crossover(pick(), pick()))
        if not population:
            return None, log
        best = max(population, key=lambda c: c[0])
        if log:
            self._report(f"evolution under {'no limit' if limit is None else f'{limit:.4g} ms'}"
                         f": best inherited accuracy {best[0]:.3f}, {len(scored)} scored",
                         epoch=len(log))
        return self.layout.arch(best[1]).key, log

    def search_sizes(self) -> tuple[int, int]:
        """(population, generations): the options', or the defaults for the accuracy used."""
        o = self.options
        population, generations = SEARCH_SIZES[o["accuracy"]]
        return (o["population"] or population, o["iterations"] or generations)

    # -- once-for-all's operators on genomes ----------------------------------------------------
    def mutate(self, genome: dict) -> dict:
        p = self.options["mutation_prob"]
        layout = self.layout
        out = {key: list(values) for key, values in genome.items()}
        for i in range(layout.n_layers):
            if self.rng.random() < p:
                out["ks"][i] = int(layout.kernels[self.rng.integers(len(layout.kernels))])
            if self.rng.random() < p:
                out["e"][i] = int(layout.expansions[self.rng.integers(len(layout.expansions))])
        for s, n in enumerate(layout.max_depths()):
            if self.rng.random() < p:
                out["d"][s] = int(self.rng.integers(1, n + 1))
        return out

    def crossover(self, a: dict, b: dict) -> dict:
        return {key: [int((a if self.rng.random() < 0.5 else b)[key][i])
                      for i in range(len(a[key]))] for key in a}

