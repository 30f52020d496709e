"""The league's share of distinct front networks: a cell computing the same network counts."""

from __future__ import annotations

import numpy as np

from hwnas.arch import Arch
from hwnas.league.metrics import TrueFront, run_metrics
from hwnas.spaces.nb201 import Nb201Space


def test_a_sibling_of_a_front_cell_counts_as_finding_its_network():
    # rows 0 and 1 are one network (class 0); row 0 is on the front, row 1 (its twin, with a
    # worse noisy accuracy) is not; row 2 is another front network, row 3 dominated.
    F = np.array([[0.9, 1.0], [0.8, 1.0], [0.5, 0.2], [0.4, 3.0]])
    classes = np.array([0, 0, 1, 2])
    truth = TrueFront.of(F, ["max", "min"], classes=classes)
    assert sorted(truth.rows.tolist()) == [0, 2]
    m = run_metrics(truth, [1, 3], every=1)
    assert m["found_share"] == 0.0  # no front cell itself
    assert m["found_networks"] == 0.5  # but one of the two front networks
    assert run_metrics(truth, [1, 2], every=1)["found_networks"] == 1.0
    plain = TrueFront.of(F, ["max", "min"])  # no classes: cells are networks
    assert run_metrics(plain, [1, 3], every=1)["found_networks"] == 0.0


def test_nb201_cells_differing_only_in_a_dead_edge_share_a_network_key():
    space = Nb201Space()
    base = {label: "nor_conv_3x3" for label, _ in space.choices()}
    # node 1 gets no input when 0->1 is none: edges leaving node 1 then compute nothing
    a = Arch("nb201", {**base, "op_0to1": "none", "op_1to2": "skip_connect"})
    b = Arch("nb201", {**base, "op_0to1": "none", "op_1to2": "avg_pool_3x3"})
    c = Arch("nb201", {**base, "op_1to2": "avg_pool_3x3"})
    assert space.network_key(a) == space.network_key(b)
    assert space.network_key(a) != space.network_key(c)
