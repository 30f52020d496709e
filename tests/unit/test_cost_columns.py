"""Cost columns of a latency table (peak memory, energy), their objectives, --latency-stat."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import BadInputError, MissingLatencyError
from hwnas.evaluation.scorer import Scorer
from hwnas.latency.columns import (
    available_columns,
    entry_from_measurement,
    predict_energy,
    predict_peak_memory,
    require_column,
)
from hwnas.latency.table import LatencyTable
from hwnas.objectives import get_objective, parse_constraint, parse_objectives
from profilers import Measurement


def _table(space, columns=("peak_mem_mb", "energy_mj")) -> LatencyTable:
    """Every op of ``space``, with made-up but distinct numbers per op."""
    entries = {}
    for i, sig in enumerate(space.all_ops()):
        entry = {"p50": 1.0 + i, "p90": 2.0 + 2 * i, "mean": 1.0 + i, "std": 0.1, "n": 10}
        entry.update({"peak_mem_mb": 0.5 + i % 7, "energy_mj": 0.25 * (i + 1)})
        entries[sig.key] = {k: v for k, v in entry.items()
                            if k not in ("peak_mem_mb", "energy_mj") or k in columns}
    return LatencyTable(backend="ort-cpu", device={"cpu": "test"}, threads=1,
                        space={"name": space.name, "config": space.config()}, entries=entries)


class _NoTraining:
    """An estimator that must never be reached by the checks under test."""

    def provides(self):
        return {"accuracy"}

    def estimate(self, arch):
        raise AssertionError("the estimator was called")


# --------------------------------------------------------------------------- columns


def test_peak_memory_is_the_max_and_energy_the_sum_over_ops(tiny_space):
    table = _table(tiny_space)
    sigs = tiny_space.ops(tiny_space.sample(np.random.default_rng(3)))
    peaks = [table.entries[s.key]["peak_mem_mb"] for s in sigs]
    energies = [table.entries[s.key]["energy_mj"] for s in sigs]
    assert len(set(peaks)) > 1  # a max that equals the sum would prove nothing
    assert predict_peak_memory(table, sigs) == max(peaks)
    assert predict_energy(table, sigs) == pytest.approx(sum(energies))
    # an op used twice costs its energy twice, its memory once
    doubled = [sigs[0], sigs[0]]
    assert predict_energy(table, doubled) == pytest.approx(2 * energies[0])
    assert predict_peak_memory(table, doubled) == peaks[0]
    assert predict_peak_memory(table, []) == 0.0 and predict_energy(table, []) == 0.0


def test_available_columns_are_those_in_every_entry(tiny_space):
    stats = {"p50", "p90", "mean", "std"}
    assert available_columns(_table(tiny_space)) == stats | {"peak_mem_mb", "energy_mj"}
    assert available_columns(_table(tiny_space, columns=())) == stats
    partial = _table(tiny_space, columns=("energy_mj",))
    del next(iter(partial.entries.values()))["energy_mj"]
    assert available_columns(partial) == stats


def test_missing_column_is_one_line_naming_column_what_the_table_has_and_command(tiny_space):
    table = _table(tiny_space, columns=("peak_mem_mb",))
    with pytest.raises(BadInputError) as err:
        predict_energy(table, tiny_space.ops(tiny_space.default_arch()))
    msg = str(err.value)
    assert "\n" not in msg
    assert "no 'energy_mj' column (it has: p50, p90, mean, std, peak_mem_mb)" in msg
    assert "`hwnas profile --space proxyless" in msg and "--backend ort-cpu --energy`" in msg


def test_column_missing_in_some_entries_says_how_many(tiny_space):
    table = _table(tiny_space)
    n = len(table.entries)
    for entry in list(table.entries.values())[:2]:
        del entry["peak_mem_mb"]
    with pytest.raises(BadInputError, match=f"no 'peak_mem_mb' column in 2 of {n} entries"):
        require_column(table, "peak_mem_mb")


def test_missing_op_is_a_missing_latency_error(tiny_space):
    table = _table(tiny_space)
    sigs = tiny_space.ops(tiny_space.default_arch())
    del table.entries[sigs[0].key]
    with pytest.raises(MissingLatencyError, match="hwnas profile"):
        predict_energy(table, sigs)


def test_entries_carry_cost_columns_only_when_measured(tiny_table_path):
    plain = Measurement(1.0, 1.2, 1.1, 0.05, 20, extra={"rejected": 0, "stable": True})
    entry = entry_from_measurement(plain)
    assert "peak_mem_mb" not in entry and "energy_mj" not in entry
    assert entry["extra"] == {"rejected": 0, "stable": True}
    measured = Measurement(1.0, 1.2, 1.1, 0.05, 20, extra={"peak_mem_mb": 0.0,
                                                           "energy_mj": 3.0})
    entry = entry_from_measurement(measured)
    assert entry["peak_mem_mb"] == 0.0 and entry["energy_mj"] == 3.0 and "extra" not in entry
    # a real table profiled without --memory/--energy (tests/conftest.py) has neither column
    table = LatencyTable.load(tiny_table_path)
    assert not {"peak_mem_mb", "energy_mj"} & available_columns(table)
    assert all("peak_mem_mb" not in e and "energy_mj" not in e for e in table.entries.values())


# --------------------------------------------------------------------------- objectives


def test_cost_objectives_are_minimised_and_usable_in_constraints():
    for name, unit in (("energy_mj", "mJ"), ("peak_mem_mb", "MB")):
        objective = get_objective(name)
        assert (objective.direction, objective.unit, objective.column) == ("min", unit, name)
    constraint = parse_constraint("energy_mj<=5")
    assert constraint.holds({"energy_mj": 4.0}) and not constraint.holds({"energy_mj": 6.0})
    assert not constraint.holds({"latency_ms": 1.0})  # absent never satisfies


def test_objective_without_its_column_fails_before_training(tiny_space):
    table = _table(tiny_space, columns=())
    objectives = parse_objectives("accuracy,latency_ms,energy_mj")
    with pytest.raises(BadInputError) as err:
        Scorer(tiny_space, _NoTraining(), table, objectives=objectives)
    assert "no 'energy_mj' column (it has: p50, p90, mean, std)" in str(err.value)
    assert "--energy`" in str(err.value) and "\n" not in str(err.value)


def test_evaluator_fills_cost_columns_only_when_the_table_has_them(tiny_space):
    arch = tiny_space.sample(np.random.default_rng(1))
    sigs = tiny_space.ops(arch)
    with_costs = _table(tiny_space)
    objectives = parse_objectives("accuracy,energy_mj,peak_mem_mb")
    result = Scorer(tiny_space, _NoTraining(), with_costs, objectives=objectives).costs(arch)
    assert result["energy_mj"] == pytest.approx(predict_energy(with_costs, sigs))
    assert result["peak_mem_mb"] == predict_peak_memory(with_costs, sigs)
    plain = Scorer(tiny_space, _NoTraining(), _table(tiny_space, columns=())).costs(arch)
    assert "energy_mj" not in plain and "peak_mem_mb" not in plain
    assert plain["latency_ms"] == result["latency_ms"]


def test_latency_stat_p90_predicts_from_p90(tiny_space):
    table = _table(tiny_space, columns=())
    arch = tiny_space.default_arch()
    sigs = tiny_space.ops(arch)
    p90 = Scorer(tiny_space, _NoTraining(), table, stat="p90").costs(arch)["latency_ms"]
    assert p90 == pytest.approx(sum(table.entries[s.key]["p90"] for s in sigs))
    with pytest.raises(BadInputError,
                       match="'latency_stat' parameter must be one of p0, p10, p50, p90, mean"):
        Scorer(tiny_space, _NoTraining(), table, stat="std")


def test_search_cli_latency_stat_sets_the_config(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from hwnas import api
    from hwnas.cli.search_cmd import search

    seen = {}

    def fake_search(config, **kwargs):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr(api, "search", fake_search)
    table = str(tmp_path / "t.json")
    result = CliRunner().invoke(search, ["--table", table, "--latency-stat", "p90", "--json"])
    assert result.exit_code == 0, result.output
    assert seen["config"].latency_stat == "p90"
    result = CliRunner().invoke(search, ["--table", table, "--latency-stat", "p99"])
    assert result.exit_code == 2
    assert "'p99' is not one of 'p0', 'p10', 'p50', 'p90'" in result.output
    CliRunner().invoke(search, ["--table", table, "--json"])
    assert seen["config"].latency_stat is None  # the table's own, resolved when the run starts
