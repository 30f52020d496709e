"""Every option of every registered plug-in, given a value its declaration refuses, through the
command line: exit 2, one line in the option template, and no run directory.

The values come from the declarations themselves (`Option.invalid_values`, as scikit-learn's
common tests generate them), so a plug-in registered tomorrow is covered with no edit here. The
CLI runs in-process (`run_app`): hundreds of cases in seconds; tests/cli covers the real entry
point.
"""

from __future__ import annotations

import json

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.registry import ESTIMATORS, EVALUATORS, SPACES, STRATEGIES
from tests.tabular_helpers import FIXTURE_CSV

# A search that gets as far as option checking with no latency table: the estimator trains
# (nothing is trained: every case fails before) and params are computed from the network.
PLAIN = ("--space", "proxyless", "--objectives", "accuracy,params")
# The tabular estimator reads a benchmark of nb201 cells.
TABULAR = ("--space", "nb201", "--estimator", "tabular",
           "--estimator-opt", f"benchmark={FIXTURE_CSV}",
           "--objectives", "accuracy,latency:pixel3", "--estimator-opt", "costs=latency:pixel3")
BASE_FOR_ESTIMATOR = {"tabular": TABULAR}


def cli_value(value) -> str:
    """How a user writes `value` after KEY= (the CLI reads JSON, else a plain string)."""
    return value if isinstance(value, str) else json.dumps(value)


def cases(registry, kind: str):
    for name in registry.names():
        for option, spec in registry.get(name).option_specs.items():
            for value in spec.invalid_values():
                yield pytest.param(name, option, value, id=f"{kind}:{name}:{option}={value!r}")


def search_fails_on_option(capsys, tmp_path, args, owner: str, option: str) -> None:
    run_dir = tmp_path / "run"
    code = run_app(app, ["search", *args, "--budget", "2", "--run-dir", str(run_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("hwnas: error:"), err
    assert f"The {option!r} option of {owner} must be" in err, err
    assert not run_dir.exists()


@pytest.mark.parametrize("name, option, value", list(cases(STRATEGIES, "strategy")))
def test_strategy_option(capsys, tmp_path, name, option, value):
    args = (*TABULAR, "--method", name, "--strategy-opt", f"{option}={cli_value(value)}")
    search_fails_on_option(capsys, tmp_path, args, f"strategy {name!r}", option)


@pytest.mark.parametrize("name, option, value", list(cases(ESTIMATORS, "estimator")))
def test_estimator_option(capsys, tmp_path, name, option, value):
    base = BASE_FOR_ESTIMATOR.get(name, (*PLAIN, "--estimator", name))
    args = (*base, "--estimator-opt", f"{option}={cli_value(value)}")
    search_fails_on_option(capsys, tmp_path, args, f"estimator {name!r}", option)


@pytest.mark.parametrize("name, option, value", list(cases(SPACES, "space")))
def test_space_option(capsys, tmp_path, name, option, value):
    args = ("--space", name, "--objectives", "accuracy,params",
            "--space-opt", f"{option}={cli_value(value)}")
    search_fails_on_option(capsys, tmp_path, args, f"search space {name!r}", option)


@pytest.mark.parametrize("name, option, value", list(cases(EVALUATORS, "evaluator")))
def test_evaluator_option(capsys, tmp_path, name, option, value):
    args = (*TABULAR, "--evaluator", name, "--evaluator-opt", f"{option}={cli_value(value)}")
    search_fails_on_option(capsys, tmp_path, args, f"evaluator {name!r}", option)


@pytest.mark.parametrize("registry, flag, extra", [
    (STRATEGIES, "--strategy-opt", ("--method", "random")),
    (ESTIMATORS, "--estimator-opt", ()),
    (SPACES, "--space-opt", ()),
    (EVALUATORS, "--evaluator-opt", ()),
], ids=["strategy", "estimator", "space", "evaluator"])
def test_unknown_option_names_the_allowed_ones(capsys, tmp_path, registry, flag, extra):
    run_dir = tmp_path / "run"
    code = run_app(app, ["search", *PLAIN, *extra, flag, "no_such_option=1", "--budget", "2",
                         "--run-dir", str(run_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err, err
    assert "unknown option 'no_such_option'" in err, err
    assert not run_dir.exists()


def test_every_option_declaration_generates_refused_values():
    """The generator itself: each declaration yields at least one value, and refuses them all."""
    for registry in (SPACES, STRATEGIES, ESTIMATORS, EVALUATORS):
        for name in registry.names():
            for option, spec in registry.get(name).option_specs.items():
                values = spec.invalid_values()
                assert values, (name, option)
                assert not any(spec.accepts(v) for v in values), (name, option)
                assert spec.accepts(spec.default), (name, option, spec.default)


def test_every_int_option_is_bounded_above():
    """An unbounded count (epochs=1000000000) is a typo that runs for ever: every int option of
    every plug-in declares its largest value (hwnas.limits), so it is refused in one line."""
    from hwnas.registry import ESTIMATORS, EVALUATORS, SPACES, STRATEGIES

    unbounded = [f"{registry.kind} {name}: {key}"
                 for registry in (SPACES, STRATEGIES, ESTIMATORS, EVALUATORS)
                 for name in registry.names()
                 for key, option in registry.get(name).option_specs.items()
                 if option.kind is int and option.high is None and option.choices is None]
    assert unbounded == []
