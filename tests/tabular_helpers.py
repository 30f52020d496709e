"""Where the benchmark data of the tabular tests live: the committed fixture, and the full
folder when this checkout has it.

The fixture (tests/fixtures/nb201_hw/, cut by tests/fixtures/make_nb201_fixture.py) is always
there, so tests on it always run. Tests that need the whole table use `FULL_DIR`, by default
../shared/benchmarks/nb201_hw beside the checkout; set HWNAS_TEST_BENCHMARKS to another folder,
or to a path that does not exist to check that everything but those tests runs without it:

    HWNAS_TEST_BENCHMARKS=/nonexistent pytest tests/unit/test_tabular.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "nb201_hw"
FIXTURE_CSV = FIXTURE_DIR / "nb201_hw.csv"
FULL_ENV = "HWNAS_TEST_BENCHMARKS"
FULL_DIR = Path(os.environ.get(FULL_ENV) or ROOT.parent / "shared" / "benchmarks" / "nb201_hw")
FULL_CSV = FULL_DIR / "nb201_hw.csv"

needs_full_table = pytest.mark.skipif(
    not FULL_CSV.is_file(), reason=f"full benchmark table not found at {FULL_CSV} (set "
                                   f"{FULL_ENV} to its folder); the fixture tests still run")
needs_full_fbnet = pytest.mark.skipif(
    not (FULL_DIR / "fbnet_hw_layerwise.csv").is_file(),
    reason=f"full HW-NAS-Bench FBNet tables not found under {FULL_DIR} (set {FULL_ENV})")

# Rows of the fixture (and of the full table) the tests name.
ROW0 = ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
        "skip_connect~2|")
ROW1 = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
        "skip_connect~2|")
BEST_C10 = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
            "nor_conv_1x1~2|")  # NATS-Bench's CIFAR-10 optimum, index 6111
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
FIXTURE_ROWS = 295
C10_PIXEL3_FRONT = 44  # true front of accuracy:cifar10 x latency:pixel3, fixture and full


def write_synthetic_nb201(path: Path) -> Path:
    """Every one of the 15,625 NB201 cells with made-up, deterministic values, in nb201-hw's
    columns: a benchmark a whole league can run on (strategies may propose any cell, and the
    fixture has 295). Accuracy grows with convolutions, Pixel 3 latency with their cost, with
    per-edge weights so that few cells tie."""
    import itertools

    ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    gain = {"none": 0.0, "skip_connect": 1.0, "nor_conv_1x1": 3.0, "nor_conv_3x3": 5.0,
            "avg_pool_3x3": 0.5}
    cost = {"none": 0.0, "skip_connect": 0.05, "nor_conv_1x1": 1.0, "nor_conv_3x3": 2.5,
            "avg_pool_3x3": 0.3}
    edges = [(i, j) for j in (1, 2, 3) for i in range(j)]
    lines = ["index,arch_str,nats_c10_test_acc_200ep,hw_c10_pixel3_latency_ms\n"]
    for index, choice in enumerate(itertools.product(ops, repeat=6)):
        by_edge = dict(zip(edges, choice, strict=True))
        text = "+".join("|" + "|".join(f"{by_edge[i, j]}~{i}" for i in range(j)) + "|"
                        for j in (1, 2, 3))
        acc = 40.0 + sum(gain[op] * (1 + 0.07 * k) for k, op in enumerate(choice))
        lat = 1.0 + sum(cost[op] * (1 + 0.11 * k) for k, op in enumerate(choice))
        lines.append(f"{index},{text},{acc!r},{lat!r}\n")
    path.write_text("".join(lines))
    return path
