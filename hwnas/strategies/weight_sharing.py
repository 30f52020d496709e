"""WeightSharingSearch: what ENAS and SPOS share as strategies of the one search loop.

Both search with one single-path supernet (hwnas.oneshot.single_path) inside their first `ask`,
then propose their `top` best architectures, one per `ask`; the loop evaluates each with the
run's final estimator (e.g. `scratch`) and records it like any candidate. Like the one-shot
strategies they train inside `ask` (`sample_based = False`: the loop leaves their threads to
their own `threads` option) and write their log under the run's `strategy/` folder:

    strategy/log.json        per epoch (ENAS) / generation (SPOS): what the search did
    strategy/proposals.json  the ranked proposals, written last: it marks the search done

A resumed run whose search was done reads `proposals.json` back and trains nothing; one killed
mid-search trains again from the start (seeded: the same proposals), as a one-shot setting does.

Data: the dataset's training images are split once (stratified, fixed seed, as
hwnas.oneshot.trainer does): `1 - arch_split` train the shared weights, the held-out rest is
the searches' "validation" split (ENAS's controller reward, SPOS's fitness, the final ranking).
The run's own validation images are never seen here: the final estimator scores on them.

Supernet weights: `supernet_weights=entangled|separate` and `kernel_transform`
(hwnas.oneshot.weight_options), as every supernet user declares them; `entangled` by default.

A candidate's objectives while searching: `accuracy` measured with the shared weights, every
other objective of the run read from the strategy's cost model (the latency table's prediction,
params/FLOPs), so that rewards combine them exactly as `reinforce` does (hwnas.rewards). One
past a hard limit on a cost known before training (`--constraint`) is marked infeasible, and
only candidates within every known limit are proposed (`_proposable`).
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from typing import ClassVar

from hwnas.arch import Arch
from hwnas.core.feasibility import INFEASIBLE, VIOLATION
from hwnas.devices import Device
from hwnas.errors import BadInputError
from hwnas.limits import (
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_POPULATION,
    MAX_RESOLUTION,
    MAX_STEPS,
    MAX_SUBSET,
    MAX_THREADS,
)
from hwnas.oneshot.weight_options import WEIGHT_OPTIONS
from hwnas.options import Option

SUPERNET_OPTIONS = {
    "epochs": Option(5, int, low=1, high=MAX_EPOCHS, help="supernet training epochs"),
    "batch_size": Option(64, int, low=2, high=MAX_BATCH),
    "lr": Option(0.05, float, low=0, low_open=True, old_names=("weight_lr",),
                 help="shared weights: SGD with Nesterov momentum, cosine-decayed"),
    "weight_decay": Option(5e-4, float, low=0),
    "arch_split": Option(0.2, float, low=0, low_open=True, high=1, high_open=True,
                         help="share of the training images held out to score paths"),
    "bn_batches": Option(4, int, low=1, high=MAX_STEPS,
                         help="training minibatches that re-estimate BatchNorm per candidate"),
    "top": Option(3, int, low=1, high=MAX_POPULATION,
                  help="best architectures proposed to the run's final estimator"),
    "resolution": Option(None, int, low=1, high=MAX_RESOLUTION, none_ok=True,
                         help="input size while searching (default: the space's)"),
    "train_subset": Option(None, int, low=4, high=MAX_SUBSET, none_ok=True),
    **WEIGHT_OPTIONS,
    "device": Device(),
    "threads": Option(None, int, low=1, high=MAX_THREADS, none_ok=True),
}
ACCURACY = "accuracy"  # what the shared weights measure; everything else is a cost


class WeightSharingSearch(ABC):
    """Mixin placed before a Strategy base: `class X(WeightSharingSearch, RewardedStrategy)`.
    Subclasses implement `_search() -> (proposals, log)`; a proposal is plain data with at
    least "arch" (Arch.to_dict())."""

    sample_based: ClassVar[bool] = False
    label_smoothing: ClassVar[float] = 0.1  # the recipe of hwnas.nn.train
    # `--preset fast`: the supernet on the scratch estimator's fast images (768 at 16x16)
    presets: ClassVar[dict] = {"fast": {"epochs": 2, "resolution": 16, "train_subset": 768}}

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        space.check_supernet(self.owner())
        unknown = [o.name for o in self.objectives
                   if o.name != ACCURACY and o.name not in self.costs.provides]
        if unknown:
            known = ", ".join(sorted(self.costs.provides)) or "no cost"
            raise BadInputError(f"{self.owner()} measures accuracy with shared weights and reads "
                                f"other objectives from the cost model; {', '.join(unknown)} "
                                f"is neither (it knows {known}): pass --table or drop it")
        self._proposals: list[dict] | None = None
        self._next = 0
        self._info: dict[str, dict] = {}

    # -- the loop's side --------------------------------------------------------------------
    def max_proposals(self) -> int:
        return self.options["top"]

    def ask(self, n: int = 1) -> list[Arch]:
        if self._proposals is None:
            loaded = self._load()
            self._proposals = loaded if loaded is not None else self._run_search()
        if self._next >= self.options["top"] or not self._proposals:
            return []
        # Fewer distinct architectures than `top` (a collapsed policy, a tight target): the
        # best ones again, which the loop looks up instead of evaluating.
        proposal = self._proposals[self._next % len(self._proposals)]
        arch = Arch.from_dict(proposal["arch"])
        self._info[arch.key] = {"method": self.registry_name, "rank": self._next % len(
            self._proposals), **{k: v for k, v in proposal.items() if k != "arch"}}
        self._next += 1
        return [arch]

    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        # The final estimator's results are recorded by the loop; the search is over (neither
        # ENAS's controller nor SPOS's population learns from them, as in the papers).
        if len(archs) != len(results):
            raise ValueError("tell() needs one result per architecture")
        self.n_told += len(archs)

    def proposal_info(self, arch: Arch) -> dict:
        return dict(self._info.get(arch.key, {}))

    # -- the search, its files --------------------------------------------------------------
    @abstractmethod
    def _search(self) -> tuple[list[dict], dict]:
        """Train and search; (the ranked proposals, the log to save)."""

    def _run_search(self) -> list[dict]:
        from hwnas.fileio import atomic_write_json

        start = time.perf_counter()
        proposals, log = self._search()
        log = {"method": self.registry_name, "seed": self.seed, "options": self.options,
               "seconds": time.perf_counter() - start, **log}
        workdir = self.context.workdir
        if workdir is not None:
            atomic_write_json(workdir / "log.json", log)
            atomic_write_json(workdir / "proposals.json",  # last: marks the search done
                              {"method": self.registry_name, "seed": self.seed,
                               "options": self.options, "proposals": proposals})
        return proposals

    def _load(self) -> list[dict] | None:
        workdir = self.context.workdir
        if workdir is None or not (workdir / "proposals.json").is_file():
            return None
        saved = json.loads((workdir / "proposals.json").read_text())
        if (saved.get("method"), saved.get("seed"), saved.get("options")) != \
                (self.registry_name, self.seed, json.loads(json.dumps(self.options))):
            raise BadInputError(f"{workdir / 'proposals.json'} was made by another search "
                                f"({saved.get('method')}, seed {saved.get('seed')}, other "
                                "options): resume with the run's own options")
        return saved["proposals"]

    # -- helpers for the searches -------------------------------------------------------------
    def _split_data(self):
        """(weight_x, weight_y, held_x, held_y) on the options' device and resolution."""
        import torch

        from hwnas.oneshot.trainer import split_for_arch
        from hwnas.strategies.oneshot import OneShotStrategy

        # the one-shot strategies' loader: dataset at the search resolution, optional subset
        x, y = OneShotStrategy._data(self, self.options)
        device = torch.device(self.options["device"])
        return split_for_arch(x.to(device), y.to(device), self.options["arch_split"])

    def _train_config(self, epochs: int | None = None):
        from hwnas.nn import train as nt

        o = self.options
        return nt.TrainConfig(epochs or o["epochs"], o["batch_size"], o["lr"],
                              o["weight_decay"], self.label_smoothing)

    def _objectives_of(self, arch: Arch, accuracy: float) -> dict:
        """The run's objectives of `arch` while searching: shared-weight accuracy, costs from
        the cost model."""
        result = {ACCURACY: float(accuracy)}
        costs = self.costs.costs(arch) if self.costs.provides else {}
        for o in self.objectives:
            if o.name != ACCURACY:
                result[o.name] = float(costs[o.name])
        v = self.known_violation(arch)
        if v > 0:  # a reward reads it as past the limit (hwnas.rewards)
            result.update({INFEASIBLE: "past a known limit", VIOLATION: v})
        return result

    def _proposable(self, ranked: list[dict]) -> list[dict]:
        """The ranked candidates within every known limit, in order (all of them when none
        is: the loop then rules them out and says so)."""
        ok = [p for p in ranked if self.known_violation(Arch.from_dict(p["arch"])) == 0]
        self.discarded += len(ranked) - len(ok)
        return ok or ranked

    def _report(self, summary: str, **fields) -> None:
        self.context.report({"event": "epoch", "method": self.registry_name, **fields,
                             "summary": f"[{self.registry_name}] {summary}"})
