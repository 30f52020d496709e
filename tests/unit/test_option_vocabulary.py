"""One vocabulary of options (issue 30 part 2): one name per shared concept across every
plug-in; the old names accepted for a release with one deprecation line, stored under the new;
a run written under the old names resumes as it began (hwnas.option_names)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hwnas
from hwnas import option_names, rewards
from hwnas.api.search import stored_strategy_options
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.core.costs import CostModel
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.registry import ESTIMATORS, EVALUATORS, SPACES, STRATEGIES
from hwnas.searching.config import SearchConfig
from hwnas.spaces.nb201 import Nb201Space
from tests.reliability.test_run_history import by_index, tabular_args
from tests.tabular_helpers import write_synthetic_nb201

# The names no plug-in has any more (README "Shared option names"), and what replaced them.
# `lr` and `target_ms` were old names too, but are today's names of another concept (the
# weights' rate; a reward's target): ENAS's and SPOS's "moved" names.
RETIRED = {"pop_size": "population", "n_initial": "n_init", "target": "target_ms",
           "w": "reward_w", "latency": "cost", "weight_lr": "lr"}
MOVED = {"lr": "controller_lr", "target_ms": "limit_ms"}
# A valid value per option that has an old name (and what it needs beside it).
VALUES = {"population": 12, "n_init": 7, "target_ms": 3.0, "reward_w": -0.5, "cost": "latency_ms",
          "controller_lr": 0.002, "lr": 0.01, "limit_ms": 4.0}
NEEDS = {"target_ms": {"reward": "mnasnet"}}
SPACE = Nb201Space()
OBJECTIVES = parse_objectives("accuracy,latency_ms")


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """Each test as a new process: nothing said yet."""
    monkeypatch.setattr(option_names, "_SAID", set())


def renamed_options():
    for name in STRATEGIES.names():
        for new, spec in STRATEGIES.get(name).option_specs.items():
            for old in spec.old_names:
                yield pytest.param(name, old, new, id=f"{name}:{old}->{new}")


# -- one name per concept ------------------------------------------------------------------
@pytest.mark.parametrize("registry", [STRATEGIES, ESTIMATORS, SPACES, EVALUATORS])
def test_no_plugin_uses_a_retired_name_and_every_old_name_is_a_known_one(registry):
    for name in registry.names():
        specs = registry.get(name).option_specs
        assert not set(specs) & set(RETIRED), (name, set(specs) & set(RETIRED))
        for new, spec in specs.items():
            for old in spec.old_names:
                assert RETIRED.get(old, MOVED.get(old)) == new, (name, old, new)


def test_the_list_shows_only_todays_names(capsys):
    assert run_app(app, ["list", "strategies"]) == 0
    out = capsys.readouterr().out
    assert not [n for n in RETIRED if f" {n}=" in out]
    for name in ("population=", "n_init=", "target_ms=", "reward_w=", "controller_lr=",
                 "limit_ms="):
        assert name in out


# -- old names: accepted, said once, stored new ----------------------------------------------
@pytest.mark.parametrize("strategy, old, new", list(renamed_options()))
def test_an_old_name_is_read_as_the_new_one_and_said_once(capsys, strategy, old, new):
    cls = STRATEGIES.get(strategy)
    extra = NEEDS.get(new, {})
    if old in cls.option_specs:  # a moved name means today's option; its old meaning is
        assert cls.resolve_options({old: VALUES[old], **NEEDS.get(old, {})})[old] == VALUES[old]
        return  # read from runs written before (test_a_run_written_before_...)
    given = {old: VALUES[new], **extra}
    assert cls.resolve_options(given) == cls.resolve_options({new: VALUES[new], **extra})
    assert cls.current_options(given) == {new: VALUES[new], **extra}
    cls.resolve_options(given)
    err = capsys.readouterr().err
    assert err == (f"hwnas: option {old!r} of strategy {strategy!r} is deprecated; use "
                   f"{new!r} (the old name is accepted until the next release)\n")


def test_an_old_name_and_its_new_one_both_given_is_one_line(capsys):
    with pytest.raises(BadInputError, match="options 'pop_size' and 'population' of strategy "
                                            "'nsga2' are one option.*give only 'population'"):
        STRATEGIES.get("nsga2").resolve_options({"pop_size": 10, "population": 10})
    with pytest.raises(BadInputError, match="until this release, 'lr' set what "
                                            "'controller_lr' sets now"):
        STRATEGIES.get("enas").resolve_options({"weight_lr": 0.1, "lr": 0.2})
    assert capsys.readouterr().err == ""  # nothing said before a refusal


def test_both_names_on_the_command_line_exit_2_in_one_line(synthetic, tmp_path, capsys):
    argv = tabular_args(synthetic, tmp_path / "run", 4, "nsga2")
    code = run_app(app, [*argv, "--strategy-opt", "pop_size=4", "--strategy-opt",
                         "population=4"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and err.startswith("hwnas: error: options 'pop_size'")
    assert not (tmp_path / "run").exists()


def test_a_moved_name_says_what_it_means_now_once(capsys):
    enas = STRATEGIES.get("enas")
    assert enas.resolve_options({"weight_lr": 0.01})["lr"] == 0.01
    assert "now means" not in capsys.readouterr().err  # `lr` was not given: nothing to note
    option_names._SAID.clear()
    assert enas.resolve_options({"lr": 0.01})["controller_lr"] == 3.5e-4
    enas.resolve_options({"lr": 0.01})
    assert capsys.readouterr().err == (
        "hwnas: note: option 'lr' of strategy 'enas' now means what 'weight_lr' meant; what "
        "it meant until this release is 'controller_lr'\n")


def test_spos_target_ms_is_the_rewards_target_and_its_old_limit_is_pointed_to():
    spos = STRATEGIES.get("spos")
    with pytest.raises(BadInputError, match="'target_ms' option of strategy 'spos' must be "
                                            "None with reward='weighted'.*limit_ms=VALUE"):
        spos.resolve_options({"target_ms": 3.0})
    assert spos.resolve_options({"target_ms": 3.0, "reward": "mnasnet"})["limit_ms"] is None


@pytest.mark.parametrize("strategy, old, new", [
    ("evolution", {"fitness": "mnasnet", "target_ms": 2.0, "w": -0.5, "latency": "latency_ms",
                   "population": 6, "sample_size": 3},
     {"fitness": "mnasnet", "target_ms": 2.0, "reward_w": -0.5, "cost": "latency_ms",
      "population": 6, "sample_size": 3}),
    ("nsga2", {"pop_size": 6}, {"population": 6}),
    ("nsga3", {"pop_size": 8, "n_partitions": 5}, {"population": 8, "n_partitions": 5}),
    ("pnas", {"n_initial": 5, "k": 3, "n_models": 1, "hidden": 8, "max_pool": 30},
     {"n_init": 5, "k": 3, "n_models": 1, "hidden": 8, "max_pool": 30}),
    ("reinforce", {"lr": 0.05, "reward": "mnasnet", "target": 3.0},
     {"controller_lr": 0.05, "reward": "mnasnet", "target_ms": 3.0}),
    ("metaqnn", {"lr": 0.2, "reward": "monas_cost_threshold", "target": 3.0, "budget": 20},
     {"controller_lr": 0.2, "reward": "monas_cost_threshold", "target_ms": 3.0, "budget": 20}),
])
def test_old_and_new_names_propose_the_same(strategy, old, new):
    def proposals(options):
        s = STRATEGIES.get(strategy)(SPACE, OBJECTIVES, seed=5, **options)
        keys = []
        while len(keys) < 24:
            asked = s.ask(3)
            z = [SPACE.encode(a) for a in asked]
            s.tell(asked, [{"accuracy": float(np.sin(v).sum()), "latency_ms": 1.0 + float(v @ v)}
                           for v in z])
            keys += [a.key for a in asked]
        return keys

    assert proposals(old) == proposals(new)


def test_latency_limits_read_the_shared_names():
    costs = CostModel(["latency_ms"], lambda a: {"latency_ms": 1.0})
    reinforce = STRATEGIES.get("reinforce")
    assert reinforce(SPACE, OBJECTIVES, reward="mnasnet", target_ms=3.0,
                     costs=costs).latency_limits() == [("--target-ms ", [3.0])]
    assert reinforce(SPACE, OBJECTIVES, target_ms=3.0, costs=costs).latency_limits() == []
    evolution = STRATEGIES.get("evolution")
    assert evolution(SPACE, OBJECTIVES, fitness="mnasnet", target_ms=2.0).latency_limits() == [
        ("--target-ms ", [2.0])]


# -- runs: stored under the new names; written under the old, resumed as they began ---------
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_synthetic_nb201(tmp_path_factory.mktemp("bench") / "bench.csv")


def test_a_run_stores_the_new_name_and_a_run_written_before_resumes_alike(synthetic, tmp_path,
                                                                         capsys):
    run_dir = tmp_path / "run"
    argv = tabular_args(synthetic, run_dir, 12, "nsga2")
    assert run_app(app, [*argv, "--strategy-opt", "pop_size=4"]) == 0
    assert capsys.readouterr().err.count("'pop_size' of strategy 'nsga2' is deprecated") == 1
    config = json.loads((run_dir / "config.json").read_text())
    assert config["search"]["strategy_options"] == {"population": 4}
    assert config["strategy_resolved"]["population"] == 4
    full = by_index(run_dir)
    # the same run as one written before the renaming, stopped after 5 candidates
    config["search"]["strategy_options"] = {"pop_size": 4}
    resolved = config["strategy_resolved"]
    resolved["pop_size"] = resolved.pop("population")
    (run_dir / "config.json").write_text(json.dumps(config))
    lines = (run_dir / "history.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "history.jsonl").write_text("".join(lines[:5]))
    (run_dir / "pareto.json").unlink()
    assert run_app(app, ["search", "--resume", str(run_dir)]) == 0
    assert "deprecated" not in capsys.readouterr().err  # the run's own options: nothing said
    assert by_index(run_dir) == full


@pytest.mark.parametrize("strategy, stored, resolved_names, expected", [
    # written before: `lr` was ENAS's controller rate, `target_ms` SPOS's hard limit
    ("enas", {"lr": 0.001, "weight_lr": 0.1}, ["lr", "weight_lr", "target"],
     {"controller_lr": 0.001, "lr": 0.1}),
    ("enas", {"lr": 0.001}, ["lr", "weight_lr"], {"controller_lr": 0.001}),
    ("spos", {"target_ms": 3.0}, ["target_ms", "target", "weight_lr"], {"limit_ms": 3.0}),
    # written today: today's meanings
    ("spos", {"target_ms": 3.0, "reward": "mnasnet"}, ["target_ms", "limit_ms", "lr"],
     {"target_ms": 3.0, "reward": "mnasnet"}),
    ("enas", {"lr": 0.1}, ["lr", "controller_lr"], {"lr": 0.1}),
])
def test_a_run_written_before_reads_a_moved_name_in_its_old_meaning(capsys, strategy, stored,
                                                                    resolved_names, expected):
    saved = SearchConfig(table="", strategy=strategy, strategy_options=stored)
    raw = {"strategy_resolved": dict.fromkeys(resolved_names, None)}
    options = stored_strategy_options(saved, raw)
    # a run that did not store `supernet_weights` was written before it: separate weights
    assert options == {**expected, "supernet_weights": "separate"}
    STRATEGIES.get(strategy).resolve_options(options)
    if "weight_lr" in resolved_names:  # nothing said of a run's own options
        assert capsys.readouterr().err == ""


# -- one module for rewards ----------------------------------------------------------------
def test_the_rewards_live_in_hwnas_rewards():
    assert hwnas.mnasnet_reward is rewards.mnasnet_reward
    from hwnas import objectives  # the old import keeps working for a release

    assert objectives.mnasnet_reward is rewards.mnasnet_reward
    assert rewards.reward_terms(OBJECTIVES) == ("accuracy", "latency_ms")
    with pytest.raises(BadInputError, match="cost=NAME"):
        rewards.reward_terms(OBJECTIVES, cost="energy_mj")
