"""OneShotStrategy: a gradient-based method as a strategy of the one search loop.

Each `ask` trains a supernet under the next setting of the sweep (a latency weight λ or a
target T), derives one architecture and proposes it; the loop then evaluates it with the run's
estimator and cost models like any candidate, and records it with its setting
(`proposal_info`). So `hwnas pareto` reads a one-shot front exactly as it reads evolution's.

    hwnas search --method proxyless --sweep lambda=0,0.05,0.1,0.2
    hwnas search --method darts --target-ms 2.5

Each setting's trajectory (per-epoch losses, accuracies, E[cost], entropy, probabilities), a
picture of it and its derived architecture are written under the run's `strategy/` folder as
the setting ends. A resumed run reads the settings already done from there and trains again
only from the setting it was in.

Hard limits: a `--constraint` on the loss's cost (`latency_ms<=T` by default) is the target:
`--target-ms T` and `--constraint latency_ms<=T` are one setting (either sets the other; two
different values are refused in one line), the loss's T and the limit the derivation step
repairs the argmax to meet (hwnas.oneshot.derive). A sweep of target_ms above the limit is
refused. Limits on other costs are the loop's: a derived architecture past one is ruled out.

A method is one file (hwnas/strategies/darts.py): its mechanism, a `OneShotMethod` subclass
(the steps), and this class's subclass naming it (`mechanism = Darts`), declaring options and
registering the strategy (a plug-in imports both bases and `COMMON_OPTIONS` from
`hwnas.plugins`). Torch is imported when a supernet is trained, never by `hwnas list`:
`OneShotMethod` imports none, and the steps import it inside them.
"""

from __future__ import annotations

import json
from typing import ClassVar

from hwnas.arch import Arch
from hwnas.devices import Device
from hwnas.errors import BadInputError
from hwnas.limits import MAX_BATCH, MAX_EPOCHS, MAX_RESOLUTION, MAX_SUBSET, MAX_THREADS
from hwnas.oneshot.weight_options import WEIGHT_OPTIONS
from hwnas.options import Option, option_error
from hwnas.strategies.base import Strategy

COST_OBJECTIVES = ("latency_ms", "energy_mj", "peak_mem_mb")
SWEEP_KEYS = ("lambda", "target_ms")

COMMON_OPTIONS = {
    "epochs": Option(30, int, low=1, high=MAX_EPOCHS,
                     help="supernet training epochs, warm-up included"),
    "warmup_epochs": Option(10, int, low=0, high=MAX_EPOCHS,
                            help="weight-only epochs before α is trained"),
    "batch_size": Option(64, int, low=2, high=MAX_BATCH),
    "lr": Option(0.05, float, low=0, low_open=True, help="weights: SGD, cosine-decayed"),
    "weight_decay": Option(5e-4, float, low=0),
    "arch_split": Option(0.2, float, low=0, low_open=True, high=1, high_open=True,
                         help="share of the training images held out for α"),
    "resolution": Option(None, int, low=1, high=MAX_RESOLUTION, none_ok=True,
                         help="input size while searching (default: the space's)"),
    "train_subset": Option(None, int, low=4, high=MAX_SUBSET, none_ok=True),
    "cost": Option("latency_ms", str, choices=COST_OBJECTIVES,
                   help="the table column in the loss"),
    "target_ms": Option(None, float, low=0, low_open=True, none_ok=True,
                        help="T in the loss, and a limit on the derived architecture's cost"),
    "sweep": Option(None, str, none_ok=True,
                    help="'lambda=0,0.1,0.2' or 'target_ms=2,3,4': one architecture each"),
    **WEIGHT_OPTIONS,
    "device": Device(),
    "threads": Option(None, int, low=1, high=MAX_THREADS, none_ok=True),
}


def parse_sweep(text: str | None, owner: str) -> list[dict]:
    """'lambda=0,0.05' -> [{'lambda': 0.0}, {'lambda': 0.05}]; None -> one default setting."""
    if text is None:
        return [{}]
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or key not in SWEEP_KEYS:
        raise option_error("sweep", owner, "KEY=V1,V2,... with KEY one of "
                           f"{', '.join(SWEEP_KEYS)}", text)
    try:  # an empty item ('0,,1') is a typo, not a setting to skip
        numbers = [float(v) for v in values.split(",")]
    except ValueError:
        numbers = []
    low_ok = (lambda v: v >= 0) if key == "lambda" else (lambda v: v > 0)
    if not numbers or not all(low_ok(v) and v == v and abs(v) != float("inf")
                              for v in numbers):
        raise option_error("sweep", owner, f"{key}= followed by comma-separated numbers "
                           f"{'>= 0' if key == 'lambda' else '> 0'}", text)
    return [{key: v} for v in numbers]


class OneShotStrategy(Strategy):
    """Base of the gradient-based strategies. Subclasses set `mechanism` (their OneShotMethod
    subclass, defined in the same file) and `option_specs` = COMMON_OPTIONS + their own, which
    must include `lambda` (the latency weight, the knob a λ sweep varies)."""

    mechanism: ClassVar[type | None] = None
    option_specs: ClassVar[dict[str, Option]] = {}
    sample_based: ClassVar[bool] = False
    # `--preset fast` (what `hwnas demo` trains): each setting's supernet on the scratch
    # estimator's fast images (768 at 16x16), three epochs of architecture steps after one of
    # weights alone.
    presets: ClassVar[dict] = {"fast": {"epochs": 4, "warmup_epochs": 1, "resolution": 16,
                                        "train_subset": 768}}

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        parse_sweep(resolved.get("sweep"), cls.owner())
        if resolved.get("warmup_epochs", 0) >= resolved.get("epochs", 1):
            raise option_error("warmup_epochs", cls.owner(),
                               f"< epochs ({resolved.get('epochs')})",
                               resolved.get("warmup_epochs"))

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        self.method_class()  # a strategy naming no mechanism: refused before a run is written
        self.settings = parse_sweep(self.options["sweep"], self.owner())
        table = self.context.table
        if table is None and (self.options["target_ms"] is not None
                              or any("target_ms" in s for s in self.settings)):
            raise BadInputError(f"{self.owner()}: a latency target needs a latency table "
                                "(--table, made by `hwnas profile`)")
        if table is not None and self.options["cost"] != "latency_ms":
            from hwnas.latency.columns import require_column

            require_column(table, self.options["cost"])
        space.check_supernet(self.owner())  # a space without a supernet: say so now
        if not space.supernet_children:
            raise BadInputError(f"{self.owner()} evaluates the supernet's argmax network each "
                                f"epoch, which space {space.name!r} cannot take out of its "
                                "supernet; use a sample-based method (e.g. --method evolution)"
                                " or --method spos")
        self._next = 0
        self._info: dict[str, dict] = {}
        self._cost = None  # built on first use: enumerating a cell space takes seconds
        self._target_from_limits()
        self._check_targets()

    def _target_from_limits(self) -> None:
        """The tightest upper limit on the loss's cost (`--constraint`) is the target T."""
        cost = self.options["cost"]
        limits = [c.bound for c in self.constraints if c.name == cost and c.op in ("<=", "<")]
        if not limits:
            return
        limit, target = min(limits), self.options["target_ms"]
        if target is None:
            self.options["target_ms"] = limit
        elif target != limit:
            raise BadInputError(f"--target-ms {target:g} and --constraint {cost}<={limit:g} "
                                f"differ: {self.registry_name}'s target is its limit on {cost}; "
                                "give one of them, or the same value")
        above = [s["target_ms"] for s in self.settings if s.get("target_ms", 0) > limit]
        if above:
            raise BadInputError(f"--sweep target_ms={above[0]:g} is above --constraint "
                                f"{cost}<={limit:g}; sweep targets within the limit")

    def _check_targets(self) -> None:
        """A hard target below every network of the space the table predicts can only fail
        after a supernet trained for it: refuse it now, before the run is written."""
        targets = [s["target_ms"] for s in self.settings if "target_ms" in s]
        if self.options["target_ms"] is not None:
            targets.append(self.options["target_ms"])
        if not targets or self.expected_cost() is None:
            return
        low, high = self.expected_cost().range()
        if min(targets) < low:
            raise BadInputError(f"target {min(targets):g} ms is below the cheapest network of "
                                f"{self.space.name} the table predicts ({low:.4g} ms; the "
                                f"dearest {high:.4g} ms); give a target of at least {low:.4g}")

    # -- the loop's side --------------------------------------------------------------------
    def max_proposals(self) -> int:
        return len(self.settings)

    def ask(self, n: int = 1) -> list[Arch]:
        if self._next >= len(self.settings):
            return []
        k = self._next
        self._next += 1
        result = self._load(k)
        if result is None:
            result = self._train(k)
        arch = Arch.from_dict(result["arch"])
        self._info[arch.key] = {"method": self.registry_name, "setting": result["setting"],
                                "setting_index": k, "argmax": result["argmax"],
                                "changed_for_target": result["changed_for_target"],
                                "table_cost": result["table_cost"],
                                "supernet_seconds": result["seconds"]}
        if "alpha_moved" in result:  # settings saved before it was recorded lack it
            self._info[arch.key].update(alpha_moved=result["alpha_moved"],
                                        entropy=result["entropy"])
        if result.get("signal"):  # and this
            self._info[arch.key]["signal"] = result["signal"]
        return [arch]

    def proposal_info(self, arch: Arch) -> dict:
        return dict(self._info.get(arch.key, {}))

    # -- one setting --------------------------------------------------------------------------
    def _setting_dir(self, k: int):
        workdir = self.context.workdir
        return None if workdir is None else workdir / f"setting-{k:02d}"

    def _load(self, k: int) -> dict | None:
        folder = self._setting_dir(k)
        if folder is None or not (folder / "result.json").is_file():
            return None
        saved = json.loads((folder / "result.json").read_text())
        if saved.get("setting") != self.settings[k]:
            raise BadInputError(f"{folder} holds setting {saved.get('setting')}, this run "
                                f"asks {self.settings[k]}: resume with the run's own options")
        return saved

    def expected_cost(self):
        if self._cost is None and self.context.table is not None:
            from hwnas.oneshot.expected_cost import ExpectedCost

            self._cost = ExpectedCost(self.space, self.context.table, self.options["cost"],
                                      self.context.latency_stat)
        return self._cost

    def _train(self, k: int) -> dict:
        from hwnas.fileio import atomic_write_json
        from hwnas.oneshot.trainer import OneShotConfig, train_supernet

        setting = self.settings[k]
        options = {**self.options, **setting}  # sweep keys are option names
        cost = self.expected_cost()
        hard = options["target_ms"] is not None
        target = options["target_ms"]
        if target is None and cost is not None:
            # No target given: T is E[cost] of the uniform distribution the search starts from
            # (only the loss reads it; nothing is refused for exceeding it).
            import torch

            target = float(cost([torch.full((len(p.options),), 1.0 / len(p.options),
                                            dtype=torch.float64) for p in cost.positions]))
        train_x, train_y = self._data(options)
        config = OneShotConfig(options["epochs"], options["warmup_epochs"],
                               options["batch_size"], options["lr"], options["weight_decay"],
                               options["arch_split"], options["device"], options["threads"],
                               options["supernet_weights"], options["kernel_transform"])

        def report(event: dict) -> None:
            self.context.report({**event, "setting": setting, "setting_index": k,
                                 "settings": len(self.settings),  # a display's k/n
                                 "summary": f"[{self.registry_name} {_fmt(setting)}] "
                                            f"{event['summary']}"})

        result = train_supernet(self.space, self.method_class(), options, config, train_x,
                                train_y, seed=self.seed, cost=cost, target=target,
                                lam=float(options["lambda"]), hard_target=hard,
                                progress=report)
        derived = result.derived
        saved = {"method": self.registry_name, "setting": setting, "target": target,
                 "hard_target": hard, "arch": derived.arch.to_dict(),
                 "argmax": dict(derived.argmax.values),
                 "changed_for_target": {k: list(v) for k, v in derived.changed.items()},
                 "table_cost": derived.cost, "seconds": result.seconds,
                 "diverged": result.diverged, "alpha_moved": result.alpha_moved,
                 "entropy": list(result.entropy), "signal": result.signal}
        folder = self._setting_dir(k)
        if folder is not None:
            atomic_write_json(folder / "trajectory.json",
                              {"setting": setting, "options": options,
                               "epochs": result.trajectory})
            from hwnas.oneshot.plots import plot_trajectory

            plot_trajectory(result.trajectory, self.space.positions(),
                            folder / "probabilities.png",
                            title=f"{self.registry_name} {_fmt(setting)}")
            atomic_write_json(folder / "result.json", saved)  # last: marks the setting done
        return saved

    @classmethod
    def method_class(cls):
        """The strategy's OneShotMethod subclass, `mechanism`. Naming none (or something
        else) is a plug-in's mistake, refused when the strategy is made: before a run."""
        from hwnas.oneshot.method import OneShotMethod

        mechanism = cls.mechanism
        if not (isinstance(mechanism, type) and issubclass(mechanism, OneShotMethod)):
            raise TypeError(f"{cls.owner()}: `mechanism` must be a OneShotMethod subclass "
                            f"(hwnas.oneshot.method); got {mechanism!r}")
        return mechanism

    def _data(self, options: dict):
        from hwnas.data import load_dataset, stratified_split

        resolution = options["resolution"] or int(self.space.input_shape[-1])
        data = load_dataset(self.context.dataset, resolution)
        if data.num_classes != int(self.space.num_classes):
            raise BadInputError(f"dataset {self.context.dataset!r} has {data.num_classes} "
                                f"classes but the space builds nets with "
                                f"{self.space.num_classes} outputs")
        x, y = data.train_x, data.train_y
        if options["train_subset"] is not None and options["train_subset"] < len(y):
            idx, _ = stratified_split(y.numpy(), options["train_subset"])
            x, y = x[idx], y[idx]
        return x, y


def _fmt(setting: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in setting.items()) or "default"
