"""Every registered one-shot strategy, a built-in's or a plug-in's: its mechanism is a
OneShotMethod, and under one setting it trains a supernet against a latency table, derives an
architecture of the space, proposes it with its setting and writes the setting's files. The
loop's side (failures, budgets) is tests/conformance/test_failed_candidates.py's."""

from __future__ import annotations

import json

import pytest

from hwnas.core.context import SearchContext
from hwnas.objectives import parse_objectives
from hwnas.oneshot.method import OneShotMethod
from hwnas.registry import STRATEGIES
from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.strategies.oneshot import OneShotStrategy
from tests.unit.test_oneshot_supernet import synthetic_table

ONE_SHOT = [n for n in STRATEGIES.names() if issubclass(STRATEGIES.get(n), OneShotStrategy)]
# One epoch of weights, then one with architecture steps, on 96 digits at 8x8: enough weight
# steps (batches of 8) for a method that steps α every five (ProxylessNAS) to step it once.
TINY = {"epochs": 2, "warmup_epochs": 1, "resolution": 8, "train_subset": 96, "batch_size": 8,
        "threads": 1}


def test_the_builtin_methods_are_covered():
    assert {"proxyless", "fbnet", "darts", "snas"} <= set(ONE_SHOT)


@pytest.mark.parametrize("name", ONE_SHOT)
def test_trains_one_setting_and_proposes_what_it_derived(name, tmp_path):
    cls = STRATEGIES.get(name)
    assert issubclass(cls.method_class(), OneShotMethod)
    space = ProxylessSpace(**ProxylessSpace.small_options)
    context = SearchContext(dataset="digits", table=synthetic_table(space), latency_stat="p50",
                            workdir=tmp_path)
    strategy = cls(space, parse_objectives("accuracy,latency_ms"), seed=0, context=context,
                   **TINY)
    assert strategy.max_proposals() == 1
    [arch] = strategy.ask()
    space.check(arch)
    info = strategy.proposal_info(arch)
    assert info["method"] == name and info["setting_index"] == 0
    assert info["table_cost"] == pytest.approx(strategy.expected_cost().of_arch(arch))
    folder = tmp_path / "setting-00"
    saved = json.loads((folder / "result.json").read_text())
    assert saved["arch"] == arch.to_dict() and saved["method"] == name
    epochs = json.loads((folder / "trajectory.json").read_text())["epochs"]
    assert [e["phase"] for e in epochs] == ["warmup", "search"]
    assert all(abs(sum(p) - 1) < 1e-4 for e in epochs for p in e["probs"])
    assert strategy.ask() == []  # one setting, one proposal
