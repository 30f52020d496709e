"""Plug-in kinds alike (issue 30, part 5): one facade for plug-in authors (`hwnas.plugins`),
options checked when any kind is made, one `config()` shape, and `SearchConfig`'s fields checked
by the plug-ins' validator in their template."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

import hwnas
import hwnas.plugins as plugins
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.plugins import SPACES, STRATEGIES, Estimate, Estimator, Evaluator, Option
from hwnas.searching.config import FIELDS, SearchConfig, stored_options
from tests.cli.helpers import ROOT


def test_every_name_the_facade_lists_resolves():
    assert sorted(plugins.__all__) == sorted(plugins._EXPORTS)
    for name in plugins.__all__:
        assert getattr(plugins, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        plugins.Nothing  # noqa: B018 - the lookup is the test


def test_hwnas_exports_the_base_classes_and_registries_the_facade_does():
    for name in ("SearchSpace", "Strategy", "OneShotStrategy", "OneShotMethod", "Estimator",
                 "Evaluator", "BenchmarkFormat", "Option", "EVALUATORS", "BENCHMARK_FORMATS",
                 "ESTIMATORS", "SPACES", "STRATEGIES", "PROFILERS"):
        assert name in hwnas.__all__ and getattr(hwnas, name) is getattr(plugins, name), name


def test_importing_the_facade_loads_no_numpy_or_torch():
    probe = ("import sys, hwnas.plugins\n"
             "print(sorted(m for m in ('numpy', 'torch', 'pymoo') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


class Checksum(Estimator):
    """A throw-away estimator written against the facade alone (registered nowhere)."""

    option_specs = {"bias": Option(0.0, float, low=0, high=0.5)}

    def estimate(self, arch):
        return Estimate(accuracy=0.25 + self.options["bias"], seconds=0.0, epochs=0)


class Nothing(Evaluator):
    """A throw-away evaluator: its constructor only keeps the task."""

    option_specs = {"chunk": Option(2, int, low=1, high=100)}

    def map(self, archs):
        return []


def test_an_estimator_checks_its_options_when_made_in_the_shared_template():
    with pytest.raises(BadInputError) as info:
        Checksum(None, bias=0.9)
    assert str(info.value) == ("The 'bias' option of estimator 'Checksum' must be a float in "
                               "[0, 0.5]. Got 0.9 instead. (options: `hwnas list estimators`)")
    with pytest.raises(BadInputError, match="unknown option 'bais' .* did you mean 'bias'"):
        Checksum(None, bais=0.1)
    with pytest.raises(BadInputError, match="The 'seed' option of estimator 'Checksum'"):
        Checksum(None, seed=-1)
    estimator = Checksum(None, bias=0.25)
    assert estimator.options == {"bias": 0.25}  # resolved before any estimate, as made
    assert estimator.estimate(None).accuracy == 0.5


def test_every_kind_returns_its_resolved_options_as_its_config():
    space = SPACES.get("nb201")(C=8)
    strategy = STRATEGIES.get("random")(space, parse_objectives(["accuracy", "params"]),
                                         seed=3)
    made = {"space": space, "strategy": strategy, "estimator": Checksum(space, seed=3),
            "evaluator": Nothing(task=None, chunk=4)}
    for kind, plugin in made.items():
        config = plugin.config()
        assert config == plugin.options, kind
        assert set(config) == set(type(plugin).option_specs), kind  # options only, no name
        assert type(plugin).resolve_options(config) == config, kind  # rebuilds it
    assert made["evaluator"].config() == {"chunk": 4}


def test_a_run_of_any_age_reads_back_its_options():
    """Runs written before every kind's config() was its options alone still read back."""
    options = {"epochs": 2}
    search = {"strategy": "random", "estimator": "scratch", "evaluator": "local"}
    old = {"search": search, "space_resolved": {"C": 8},
           "strategy_resolved": {"name": "random", "seed": 0, "max_retries": 3},
           "estimator_resolved": {"estimator": "scratch", "dataset": "digits", "seed": 0,
                                  **options},
           "evaluator_resolved": {"name": "local"}}
    new = {"search": search, "space_resolved": {"C": 8},
           "strategy_resolved": {"max_retries": 3}, "estimator_resolved": options,
           "evaluator_resolved": {}}
    for kind in ("space", "strategy", "estimator", "evaluator"):
        assert stored_options(old, kind) == stored_options(new, kind) == \
            new[f"{kind}_resolved"], kind
    assert stored_options({"search": search}, "estimator") == {}


def test_search_config_fields_are_declared_with_the_dataclass_defaults():
    fields = {f.name: f for f in dataclasses.fields(SearchConfig)}
    assert set(FIELDS) == set(fields)
    for name, spec in FIELDS.items():
        field = fields[name]
        default = field.default_factory() if field.default_factory is not \
            dataclasses.MISSING else field.default
        if name != "table":  # required: no default
            assert spec.default == default, name
        assert spec.accepts(spec.default), name


@pytest.mark.parametrize("name, value", [(name, value) for name, spec in FIELDS.items()
                                         for value in spec.invalid_values()])
def test_a_bad_search_config_field_is_one_line_in_the_option_template(name, value):
    with pytest.raises(BadInputError) as info:
        SearchConfig(**{"table": "", name: value}).validate()
    message = str(info.value)
    assert message.startswith(f"The {name!r} option of the search must be "), message
    assert f"Got {value!r} instead." in message and "\n" not in message
    assert message.endswith("(see `hwnas search --help`)"), message


def test_a_mistyped_choice_is_answered_with_the_closest():
    with pytest.raises(BadInputError, match="one of 'front', 'all', 'none'. Got 'fron' "
                                            "instead. Did you mean 'front'?"):
        SearchConfig(table="", keep_weights="fron").validate()
