import json

import pytest
import torch

from hwnas.errors import BadInputError
from hwnas.objectives import mnasnet_reward, parse_constraint, parse_objectives
from hwnas.runs import RunDir


def test_history_appends_and_heals_a_torn_line(tmp_path):
    run = RunDir.create(tmp_path / "r", {"search": {}})
    run.append({"arch_key": "a", "result": {"accuracy": 0.5}})
    run.append({"arch_key": "b", "result": {"accuracy": 0.6}})
    with open(run.history_path, "a") as fh:
        fh.write('{"arch_key": "c", "res')  # a crash mid-write
    assert [r["arch_key"] for r in RunDir.open(run.path).history()] == ["a", "b"]
    run.append({"arch_key": "c", "result": {}})
    assert [r["arch_key"] for r in run.history()] == ["a", "b", "c"]


def test_create_refuses_an_existing_run_and_open_needs_config(tmp_path):
    RunDir.create(tmp_path / "r", {"x": 1})
    with pytest.raises(BadInputError, match="already holds a run"):
        RunDir.create(tmp_path / "r", {"x": 2})
    assert json.loads((tmp_path / "r" / "config.json").read_text()) == {"x": 1}
    with pytest.raises(BadInputError, match="not a run directory"):
        RunDir.open(tmp_path / "nothing")


def test_weights_round_trip_and_prune(tmp_path):
    run = RunDir.create(tmp_path / "r", {})
    run.save_weights("k1", {"w": torch.ones(2)})
    run.save_weights("k2", {"w": torch.zeros(2)})
    assert torch.equal(run.load_weights("k1")["w"], torch.ones(2))
    assert run.prune_weights({"k1"}) == 1 and run.load_weights("k2") is None


def test_mnasnet_reward_matches_the_paper_formula():
    assert mnasnet_reward(0.8, 2.0, 2.0) == pytest.approx(0.8)
    assert mnasnet_reward(0.8, 4.0, 2.0) == pytest.approx(0.8 * 2 ** -0.07)
    assert mnasnet_reward(0.8, 1.0, 2.0, alpha=0, beta=-1) == pytest.approx(0.8)


def test_constraints_parse_without_evaluating_code():
    c = parse_constraint("latency_ms<=3")
    assert c.holds({"latency_ms": 2.5}) and not c.holds({"latency_ms": 3.5})
    for bad in ("latency_ms<=__import__('os')", "latency<=3", "latency_ms 3"):
        with pytest.raises(BadInputError):
            parse_constraint(bad)


def test_objectives_need_two_known_names():
    assert [o.direction for o in parse_objectives("accuracy,latency_ms")] == ["max", "min"]
    with pytest.raises(BadInputError, match="did you mean 'latency_ms'"):
        parse_objectives("accuracy,latency")
    with pytest.raises(BadInputError, match="at least two"):
        parse_objectives("accuracy")


def test_benchmark_device_costs_are_objectives_and_constraints():
    from hwnas.objectives import get_objective

    objective = get_objective("latency:pixel3")
    assert objective.direction == "min" and objective.unit == "ms"
    assert get_objective("energy:fpga").unit == "mJ"
    assert parse_constraint("latency:pixel3<=5").holds({"latency:pixel3": 4.0})
    with pytest.raises(BadInputError, match="latency:DEVICE"):
        get_objective("speed:pixel3")
