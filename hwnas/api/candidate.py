"""One candidate of a run, and the weights it would be shipped with.

`hwnas train` and `hwnas export` choose a candidate the same way (the knee, --pick or --arch).
Export then needs weights trained at the resolution the network is exported and timed at: the
space's resolution, the one the latency table measured. A search's estimator may train its
proxies at a lower one (`--preset fast`: 16x16); such weights score at chance on the images the
exported network will see, so they are refused, and `hwnas train` makes the right ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwnas.api.common import build_space
from hwnas.core.failure import is_failed
from hwnas.core.feasibility import is_infeasible
from hwnas.errors import BadInputError
from hwnas.quoting import shell_word
from hwnas.runs import RunDir, unique_records
from hwnas.trained import TrainedDir

FINAL, SEARCH, UNTRAINED = "final", "search", "untrained"


def choose(run_path: str | Path, *, pick: list[str] | None = None,
           arch_key: str | None = None, job: str = "export") -> tuple[RunDir, dict, dict]:
    """The run, its config and the record chosen (the knee, --pick or --arch); reads only.
    What `hwnas export --dry-run` shows and `hwnas train` trains."""
    from hwnas.analysis.picking import pick_record
    from hwnas.searching.config import SearchConfig

    run = RunDir.open(run_path)
    config = run.config()
    objectives = SearchConfig.from_dict(config["search"]).objectives  # its default if unset
    record = pick_record(run, unique_records(run.history()), objectives,
                         pick=pick, arch_key=arch_key)
    if is_failed(record["result"]):  # only a key names one: knee and --pick skip them
        raise BadInputError(f"candidate {record['arch_key']} of run {run.path} failed "
                            f"({record['result']['failed']}): there is no network to "
                            f"{job}; pick another candidate with `hwnas pareto "
                            f"{shell_word(run.path)}`")
    if is_infeasible(record["result"]):  # likewise: it breaks a hard limit of the run
        raise BadInputError(f"candidate {record['arch_key']} of run {run.path} is infeasible "
                            f"({record['result']['infeasible']}): it breaks the run's "
                            f"--constraint, so it is not one to {job}; pick a feasible one "
                            f"with `hwnas pareto {shell_word(run.path)}`")
    return run, config, record


def objectives_of(record: dict, objective_names: list[str]) -> dict:
    """The run's objectives of a record, then params/FLOPs when recorded."""
    result = record["result"]
    names = [*objective_names, *(n for n in ("params", "flops") if n not in objective_names)]
    return {n: result[n] for n in names if n in result}


def run_space(config: dict):
    """The run's space, as the search built it (and the table timed it)."""
    return build_space(config["search"]["space"], config["space_resolved"])


def deploy_resolution(config: dict) -> int:
    """The resolution a run's networks are deployed, timed and exported at: its space's."""
    return int(run_space(config).input_shape[-1])


def proxy_resolution(config: dict, record: dict) -> int:
    """The resolution the search's estimator trained (and kept the weights of) a candidate at:
    what the estimate recorded, else the estimator's option, else the space's."""
    recorded = (record.get("estimate") or {}).get("resolution")
    if isinstance(recorded, int) and not isinstance(recorded, bool):
        return recorded
    option = (config.get("estimator_resolved") or {}).get("resolution")
    return option if isinstance(option, int) and not isinstance(option, bool) \
        else deploy_resolution(config)


def trains_candidates(config: dict) -> bool:
    """Whether the run's estimator trained each candidate briefly (`proxy_training`, e.g.
    `scratch`), so its accuracies are a proxy told by epochs, images and resolution."""
    from hwnas.registry import ESTIMATORS

    return getattr(ESTIMATORS.find(config["search"].get("estimator", "")), "proxy_training",
                   False)


def proxy_description(config: dict, record: dict) -> str:
    """How the search scored a candidate, e.g. "2 epochs on 768 images at 16x16"."""
    est = config.get("estimator_resolved") or {}
    name = config["search"].get("estimator", "?")
    if not trains_candidates(config):
        return f"estimator {name}"
    estimate = record.get("estimate") or {}
    size = estimate.get("train_size") or est.get("train_subset")
    res = proxy_resolution(config, record)
    images = f" on {size} images" if size else ""
    return f"{est.get('epochs', '?')} epochs{images} at {res}x{res}"


@dataclass(frozen=True)
class DeployWeights:
    """The weights an export uses: `source` final (`hwnas train`), search (the estimator's
    kept weights, at the deploy resolution) or untrained (asked for with --untrained)."""

    source: str
    state_dict: dict | None
    resolution: int
    final_metrics: dict | None = None  # metrics.json of the final training

    def describe(self) -> str:
        if self.source == FINAL:
            m = self.final_metrics or {}
            return (f"final training ({m.get('epochs', '?')} epochs at {self.resolution}x"
                    f"{self.resolution}, `hwnas train`)")
        if self.source == SEARCH:
            return (f"the search's proxy training, at the deploy resolution {self.resolution}x"
                    f"{self.resolution} (`hwnas train` trains it fully)")
        return "untrained (random initialisation, asked for with --untrained)"


def deploy_weights(run: RunDir, config: dict, record: dict, *,
                   untrained: bool = False) -> DeployWeights:
    """The weights to export `record` with, or one line saying why there are none that fit:
    final-trained weights first, else the search's own when trained at the deploy resolution.
    Reads only."""
    key = record["arch_key"]
    resolution = deploy_resolution(config)
    if untrained:
        return DeployWeights(UNTRAINED, None, resolution)
    trained = TrainedDir(run.path, key)
    if trained.finished():
        state = trained.load_weights()
        return DeployWeights(FINAL, state, resolution, trained.metrics())
    state = run.load_weights(key)
    proxy = proxy_resolution(config, record)
    if state is not None and proxy == resolution:
        return DeployWeights(SEARCH, state, resolution)
    train = f"hwnas train {shell_word(run.path)} --arch {shell_word(key)}"
    if state is None:
        have = "the run kept no weights for it"
        if trained.checkpoint_path.exists():
            have += " and its final training has not finished (run the same command again " \
                    "to resume it)"
    else:
        have = (f"its weights from the search were trained at {proxy}x{proxy}, a proxy "
                f"(they score near chance on {resolution}x{resolution} images)")
    raise BadInputError(f"candidate {key} of run {run.path} is exported and timed at "
                        f"{resolution}x{resolution}, but {have}; train it at {resolution}x"
                        f"{resolution} first: `{train}`, or export a randomly initialised "
                        "network on purpose with --untrained")
