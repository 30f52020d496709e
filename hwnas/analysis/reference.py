"""The hypervolume normaliser runs compared together share (`hwnas pareto`, `hwnas report`),
read from the bounds each run stored when it was created (hwnas.api.hv_reference)."""

from __future__ import annotations

import numpy as np

from hwnas.analysis.pareto import Normaliser, to_min


def shared_reference(runs: list, configs: list[dict], names: list[str],
                     directions: list[str]):
    """The normaliser every run's hypervolume uses, what it is, and warnings. `runs`: the
    compared runs (hwnas.runs.RunDir; only their `path` is read), `configs` their config.json.

    The first run's stored bounds for the objectives compared (hwnas.api.hv_reference); a run
    that stored other bounds is warned about (its number here is on the first run's scale).
    None, normalising over the runs shown, when the first run stored no bound for one of them.
    """
    stored = [_stored_bounds(c, names) for c in configs]
    if stored[0] is None:
        return None, {"source": "min-max over the runs shown (the first run stored no bound "
                                "for every objective compared): these numbers hold for this "
                                "comparison only"}, []
    ideal, nadir, how = stored[0]
    warnings = [f"run {run.path} stored other hypervolume bounds than {runs[0].path}; its "
                f"hypervolume here uses the first run's"
                for run, other in zip(runs[1:], stored[1:], strict=True)
                if other is None or not np.allclose(other[:2], (ideal, nadir))]
    lo, hi = to_min([ideal], directions)[0], to_min([nadir], directions)[0]
    normaliser = Normaliser(np.minimum(lo, hi), np.maximum(lo, hi))
    return normaliser, {"source": f"stored with run {runs[0].path}", "how": how}, warnings


def _stored_bounds(config: dict, names: list[str]):
    ref = config.get("hypervolume_reference") or {}
    have = list(ref.get("objectives") or [])
    if not set(names) <= set(have):
        return None
    at = [have.index(n) for n in names]
    return ([ref["ideal"][i] for i in at], [ref["nadir"][i] for i in at],
            {n: ref.get("how", {}).get(n, "") for n in names})
