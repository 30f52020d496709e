"""`--preset fast` shrinks every trainer a run touches: each plug-in's presets are its own,
valid options, and the command line applies the strategy's and the estimator's together."""

from __future__ import annotations

import pytest

from hwnas.api.presets import apply_preset, preset_values
from hwnas.errors import BadInputError
from hwnas.registry import ESTIMATORS, STRATEGIES

# Every plug-in that trains a network or a supernet (what a preset must shrink).
TRAINERS = {"estimator": ("scratch", "shared"),
            "strategy": ("proxyless", "fbnet", "darts", "snas", "single_path_nas", "enas", "spos",
                         "ofa")}


def _all():
    for registry in (ESTIMATORS, STRATEGIES):
        for name in registry.names():
            yield registry, name


@pytest.mark.parametrize("registry,name", list(_all()),
                         ids=[f"{r.kind}-{n}" for r, n in _all()])
def test_every_preset_is_a_valid_setting_of_its_own_options(registry, name):
    cls = registry.get(name)
    for preset, values in cls.presets.items():
        assert set(values) <= set(cls.option_specs), (preset, set(values) - set(cls.option_specs))
        resolved = cls.resolve_options(values)  # refused here if a value is out of range
        assert all(resolved[k] == v for k, v in values.items())


@pytest.mark.parametrize("kind,name", [(k, n) for k, names in TRAINERS.items() for n in names])
def test_fast_shrinks_every_trainer(kind, name):
    cls = (ESTIMATORS if kind == "estimator" else STRATEGIES).get(name)
    fast = preset_values(cls, "fast")
    defaults = {k: o.default for k, o in cls.option_specs.items()}
    assert fast["epochs"] < defaults["epochs"]
    assert fast["resolution"] == 16 and fast["train_subset"] == 768


def test_the_command_line_applies_both_and_what_is_given_wins():
    est, strat = apply_preset("fast", "scratch", {"epochs": 5}, "proxyless", {"lambda": 0.3})
    assert est == {**preset_values(ESTIMATORS.get("scratch"), "fast"), "epochs": 5}
    assert strat["epochs"] == preset_values(STRATEGIES.get("proxyless"), "fast")["epochs"]
    assert strat["lambda"] == 0.3
    # a sample-based strategy has nothing to shrink; the estimator still does
    est, strat = apply_preset("fast", "scratch", {}, "evolution", {})
    assert strat == {} and est["resolution"] == 16
    assert apply_preset("paper", "scratch", {"lr": 0.1}, "spos", {}) == ({"lr": 0.1}, {})


def test_a_preset_with_nothing_to_shrink_is_refused_naming_where_it_applies():
    with pytest.raises(BadInputError) as err:
        apply_preset("fast", "tabular", {}, "evolution", {})
    assert "--estimator scratch" in str(err.value) and "--method proxyless" in str(err.value)
