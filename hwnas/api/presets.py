"""Named settings of the plug-ins' options: `hwnas search --preset fast`.

Each plug-in that trains something declares what `fast` means for it (`presets` on its class:
the scratch estimator, the shared-weights estimator, the one-shot and weight-sharing
strategies), so one `--preset fast` shrinks every trainer a run touches: the estimator's
candidates and the strategy's supernet alike. The defaults are what a real comparison wants and
can take minutes per candidate (315 s for the first proxyless candidate on 2 cores) or hours
per supernet sweep on a small CPU; `fast` is what `hwnas demo` runs and what the README's
timed commands use. `paper` names the declared defaults, so a command line can say which one
it means. Options given with `--estimator-opt` / `--strategy-opt` always win over a preset's.
"""

from __future__ import annotations

from hwnas.errors import BadInputError

PRESET_NAMES = ("fast", "paper")


def preset_values(plugin_cls, preset: str | None) -> dict:
    """The option values `preset` sets on one plug-in class ({} for none or `paper`)."""
    if preset in (None, "paper"):
        return {}
    return dict(getattr(plugin_cls, "presets", {}).get(preset, {}))


def apply_preset(preset: str | None, estimator: str, estimator_options: dict,
                 strategy: str, strategy_options: dict) -> tuple[dict, dict]:
    """(estimator options, strategy options): what was given over the preset's values for
    each (new dicts). Refused in one line when neither plug-in has such a preset."""
    from hwnas.registry import ESTIMATORS, STRATEGIES
    from hwnas.searching.auto import AUTO

    # auto picks a sample-based method, and none of them trains anything a preset shrinks
    est_cls = ESTIMATORS.get(estimator)
    strat_cls = None if strategy == AUTO else STRATEGIES.get(strategy)
    est, strat = preset_values(est_cls, preset), preset_values(strat_cls, preset)
    if preset not in (None, "paper") and not est and not strat:
        having = sorted({f"--estimator {n}" for n in ESTIMATORS.names()
                         if preset in ESTIMATORS.get(n).presets}
                        | {f"--method {n}" for n in STRATEGIES.names()
                           if preset in STRATEGIES.get(n).presets})
        raise BadInputError(f"--preset {preset} shrinks what a run trains, and neither "
                            f"--estimator {estimator} nor --method {strategy} trains anything "
                            f"it could shrink (it applies with {', '.join(having)}); drop "
                            "--preset")
    return {**est, **estimator_options}, {**strat, **strategy_options}
