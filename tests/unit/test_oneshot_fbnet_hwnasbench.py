"""FBNet searching for a phone it does not have: the fbnet space with HW-NAS-Bench's Pixel 3
per-block latencies imported as the table. The expected latency the loss reads is that table's
sum of blocks, and the derived network's cost equals HW-NAS-Bench's per-block sum."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from hwnas.data import load_dataset
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.trainer import OneShotConfig, train_supernet
from hwnas.spaces.fbnet import FBNetSpace
from hwnas.strategies.fbnet_dnas import FBNet, FBNetStrategy
from hwnas.tables.hwnasbench import import_fbnet_table
from tests.tabular_helpers import FIXTURE_DIR, FULL_DIR, needs_full_fbnet


@pytest.fixture(scope="module")
def searched():
    table = import_fbnet_table(FIXTURE_DIR, "pixel3_latency", "cifar100")
    space = FBNetSpace("cifar100", num_classes=10)  # HW-NAS-Bench's CIFAR-10 classifier
    cost = ExpectedCost(space, table)
    data = load_dataset("digits", 8)
    x, y = data.train_x[:96], data.train_y[:96]
    options = FBNetStrategy.resolve_options({"lambda": 2.0})
    config = OneShotConfig(epochs=2, warmup_epochs=1, batch_size=32, lr=0.05,
                           weight_decay=5e-4, arch_split=0.25, threads=1)
    low, high = cost.range()
    result = train_supernet(space, FBNet, options, config, x, y, seed=0, cost=cost,
                            target=(low + high) / 2, lam=2.0)
    return table, space, cost, result


def test_expected_latency_is_the_sum_of_hwnas_bench_blocks(searched):
    table, space, cost, result = searched
    arch = result.derived.arch
    blocks = sum(table.lookup(sig) for sig in space.ops(arch))
    assert table.calibration is None  # published numbers, used as they are
    assert result.derived.cost == pytest.approx(blocks, rel=1e-12)
    assert float(cost(cost.one_hot(arch))) == pytest.approx(blocks, rel=1e-12)
    # the search moved towards the phone's cheaper blocks from the uniform start
    uniform = [torch.full((len(p.options),), 1 / len(p.options), dtype=torch.float64)
               for p in cost.positions]
    last = result.trajectory[-1]
    assert last["expected_cost"] < float(cost(uniform))


@needs_full_fbnet
def test_derived_cost_equals_the_layerwise_table(searched):
    """Against HW-NAS-Bench's layer-wise numbers read independently of the import."""
    table, space, _cost, result = searched
    rows = {}
    with (FULL_DIR / "fbnet_hw_layerwise.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["dataset"] == "cifar100":
                rows[(row["layer"], row.get("op_index", ""))] = float(row["pixel3_latency_ms"])
    indices = space.encode(result.derived.arch)
    total = rows[("fixed", "")] + sum(rows[(str(i), str(int(op)))]
                                      for i, op in enumerate(indices))
    # the fixed row holds HW-NAS-Bench's CIFAR-100 classifier (FC 1504->100); ours is its
    # CIFAR-10 one (FC 1504->10), which the import takes from the same lookup table
    fc100 = FBNetSpace("cifar100").head_sigs()[-1]
    fc10 = space.head_sigs()[-1]
    total += table.lookup(fc10) - table.lookup(fc100)
    assert math.isclose(result.derived.cost, total, rel_tol=1e-9)
