"""hwnas.league.runner on a hand-made table whose true front is known (a fake table)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from hwnas.analysis.pareto import hypervolume
from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.league.metrics import TrueFront, checkpoints, evals_to, hv_trajectory, run_metrics
from hwnas.league.runner import BenchProblem, bench, run_once, write_outputs
from hwnas.objectives import parse_objectives
from hwnas.spaces.base import SearchSpace


class ToySpace(SearchSpace):
    """3 labels × 4 options = 64 architectures; not registered, so no registry test sees it."""

    registry_name = "toy"
    input_shape = (1, 1, 1)

    def choices(self):
        return [(f"e{i}", ("a", "b", "c", "d")) for i in range(3)]

    def ops(self, arch):
        return []

    def build_op(self, sig):
        raise NotImplementedError

    def config(self):
        return {}


class FakeTable:
    """The slice of hwnas.tabular.benchmark.BenchmarkTable that bench uses, over every toy arch."""

    def __init__(self, space, columns: dict[str, np.ndarray]):
        self.archs = [Arch(space.name, dict(zip([lb for lb, _ in space.choices()], combo,
                                                strict=True)))
                      for combo in itertools.product(*(o for _, o in space.choices()))]
        self._rows = {a.key: i for i, a in enumerate(self.archs)}
        self._columns = columns
        self.columns = list(columns)
        self.n_rows = len(self.archs)

    def resolve(self, name):
        if name not in self._columns:
            raise BadInputError(f"unknown objective {name!r}; allowed: {', '.join(self.columns)}")
        return name

    def objective_values(self, name):
        return self._columns[self.resolve(name)].copy()

    def available(self, names):
        return np.all([np.isfinite(self._columns[n]) for n in names], axis=0)

    def row_of(self, arch):
        return self._rows[arch.key]

    def arch_of(self, row):
        return self.archs[row]


SPACE = ToySpace()
OBJECTIVES = parse_objectives("accuracy:toy,latency:dev")


def make_table(seed: int = 0) -> FakeTable:
    """Random trade-off with noise; row 5 lacks latency (infeasible)."""
    rng = np.random.default_rng(seed)
    n = 64
    size = rng.random(n)
    acc = 0.5 + 0.4 * np.sqrt(size) + 0.05 * rng.random(n)
    lat = 1.0 + 9.0 * size + rng.random(n)
    lat[5] = np.nan
    return FakeTable(SPACE, {"accuracy:toy": acc, "latency:dev": lat})


def brute_front(F):
    """Rows no other row dominates (max accuracy, min latency), NaN rows left out."""
    ok = [i for i in range(len(F)) if np.isfinite(F[i]).all()]
    def dominates(a, b):
        return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])
    return sorted(i for i in ok if not any(dominates(F[j], F[i]) for j in ok))


def test_true_front_matches_brute_force_and_excludes_nan_rows():
    problem = BenchProblem.build(SPACE, make_table(), OBJECTIVES)
    assert sorted(problem.truth.rows.tolist()) == brute_front(problem.truth.F)
    assert 5 not in problem.truth.rows


def test_whole_table_scores_one_and_finds_everything():
    problem = BenchProblem.build(SPACE, make_table(), OBJECTIVES)
    rows = list(range(problem.table.n_rows))
    m = run_metrics(problem.truth, rows, every=10)
    assert m["hv_ratio"] == pytest.approx(1.0)
    assert m["found_share"] == 1.0 and m["found_count"] == problem.truth.rows.size
    assert m["igd"] == pytest.approx(0.0)
    assert m["unique_evals"] == 64 and m["infeasible_evals"] == 1
    assert m["curve"]["evals"] == [10, 20, 30, 40, 50, 60, 64]


def test_hv_trajectory_equals_from_scratch_hypervolume_of_every_prefix():
    problem = BenchProblem.build(SPACE, make_table(1), OBJECTIVES)
    truth = problem.truth
    rows = np.random.default_rng(3).integers(0, 64, size=40).tolist()
    traj = hv_trajectory(truth, rows)
    for i in range(len(rows)):
        pts = truth.F[[r for r in rows[: i + 1] if np.isfinite(truth.F[r]).all()]]
        expected = (hypervolume(pts, truth.directions, normaliser=truth.normaliser).value
                    / truth.hv if len(pts) else 0.0)
        assert traj[i] == pytest.approx(expected)
    assert np.all(np.diff(traj) >= -1e-12)  # never decreases


def test_evals_to_targets_on_a_hand_made_front():
    # Min-form normalised front A=(0,1), B=(.5,.5), C=(1,0); ref 1.1: HV = .05 + .30 + .11.
    F = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0], [2.0, 2.0]])  # min, min; row 3 dominated
    truth = TrueFront.of(F, ["min", "min"])
    assert truth.hv == pytest.approx(0.46)
    traj = hv_trajectory(truth, [3, 1, 0, 2])
    assert traj[0] == 0.0  # beyond the reference point: no volume
    assert traj[1] == pytest.approx(0.36 / 0.46)
    assert traj[2] == pytest.approx(0.41 / 0.46)
    assert traj[3] == pytest.approx(1.0)
    assert evals_to(traj, 0.95) == 4 and evals_to(traj, 0.5) == 2
    assert evals_to(traj[:3], 0.95) is None
    assert checkpoints(25, 10) == [10, 20, 25] and checkpoints(20, 10) == [10, 20]


def test_infeasible_arch_gets_a_result_dominated_by_every_row():
    problem = BenchProblem.build(SPACE, make_table(), OBJECTIVES)
    bad = problem.result(5)
    F = problem.truth.F
    ok = np.isfinite(F).all(axis=1)
    assert np.all(F[ok, 0] > bad["accuracy:toy"]) and np.all(F[ok, 1] < bad["latency:dev"])


def test_bench_is_deterministic_and_writes_outputs(tmp_path):
    problem = BenchProblem.build(SPACE, make_table(), OBJECTIVES)
    a = bench(problem, ["random", "nsga2", "evolution"], seeds=2, budget=30, every=10)
    b = bench(problem, ["random", "nsga2", "evolution"], seeds=2, budget=30, every=10)
    for m in a["methods"]:
        assert ([r["hv_ratio"] for r in a["methods"][m]["per_seed"]]
                == [r["hv_ratio"] for r in b["methods"][m]["per_seed"]])
    ratios = [a["methods"][m]["hv_ratio"]["mean"] for m in a["league"]]
    assert ratios == sorted(ratios, reverse=True)
    assert "vs_random" in a["methods"]["nsga2"] and "vs_random" not in a["methods"]["random"]
    out = write_outputs(a, tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["true_front"]["size"] == problem.truth.rows.size
    assert (tmp_path / "hv.png").read_bytes()[:4] == b"\x89PNG"
    league = (tmp_path / "league.md").read_text()
    assert "| 1 | " in league and "HV ratio" in league
    assert out["outputs"]["league"].endswith("league.md")


def test_budget_counts_repeats():
    problem = BenchProblem.build(SPACE, make_table(), OBJECTIVES)
    rows, _ = run_once(problem, "evolution", seed=0, budget=200, batch=3)
    assert len(rows) == 200 and len(set(rows)) <= 64  # more proposals than architectures


def test_unknown_objective_is_one_line_bad_input():
    with pytest.raises(BadInputError, match="unknown objective"):
        BenchProblem.build(SPACE, make_table(), parse_objectives("accuracy:toy,latency:x"))
    with pytest.raises(BadInputError, match="at least two"):
        parse_objectives("accuracy:toy")
