"""Keep the better, and a verdict (issue "The model you export is the model you measured",
items 3 and 4): a calibration that predicts the networks it measured worse, cross-validated,
than the plain sum or the table's previous calibration is not stored, and the command says so;
calibrate and validate end in one line on whether to trust the table.

On the fake backend of test_drift: measurements are a known function of the ops, so which
candidate should win is known; no wall clock is read."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from hwnas.latency.table import LatencyTable
from hwnas.tables import verdict as verdicts
from hwnas.tables.calibrate import calibrate_table
from hwnas.tables.calibration_choice import NEW, PLAIN, PREVIOUS, choose
from hwnas.tables.profile import profile_ops
from tests.unit.test_drift import FakeBackend


class NoOverhead(FakeBackend):
    """A machine on which a network takes exactly the sum of its ops: the plain sum is
    right, and any fit can only add noise to it."""

    def true_ms(self, model) -> float:
        return 1e-5 * sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def profiled(tiny_space):
    return profile_ops(tiny_space, tiny_space.all_ops(), "fake", threads=1,
                       backend=FakeBackend(seed=1))


def test_choose_keeps_the_lowest_error_and_says_why():
    measured = [1.0, 2.0, 3.0, 4.0]
    decision = choose(measured, {NEW: ([1.3, 2.6, 2.1, 5.2], 1.0),
                                 PLAIN: ([1.0, 2.1, 2.9, 4.0], 1.0)})
    assert decision["kept"] == PLAIN
    assert decision["why"].startswith("kept the plain sum: 100% within ±10%")
    assert "new calibration 0% within ±10%, mean error 28.6%" in decision["why"]
    assert decision["why"].endswith("the new fit is not stored")
    # a tie keeps the new fit (anchored at today's speed); speed factors are applied
    tie = choose(measured, {PLAIN: ([2.0, 4.0, 6.0, 8.0], 2.0), NEW: (measured, 1.0)})
    assert tie["kept"] == NEW and tie["scores"][PLAIN]["mean_abs_log_error"] == 0.0


def test_a_fit_that_cannot_beat_the_plain_sum_is_not_stored(tiny_space):
    table = profile_ops(tiny_space, tiny_space.all_ops(), "fake", threads=1,
                        backend=NoOverhead(seed=1))
    result = calibrate_table(table, samples=8, seed=2, backend=NoOverhead(seed=2, noise=0.1))
    kept = result["kept"]
    assert kept["kept"] == PLAIN and "not stored" in kept["why"]
    assert kept["scores"][PLAIN]["mean_abs_log_error"] < kept["scores"][NEW][
        "mean_abs_log_error"]
    # the table now predicts the plain sum, at the speed its entries were profiled at
    rng = np.random.default_rng(0)
    for _ in range(10):
        sigs = tiny_space.ops(tiny_space.sample(rng))
        assert table.predict_ops(sigs) == table.predict_ops(sigs, calibrated=False)
    assert table.reference["ms"] == table.reference["profiled_ms"]
    assert table.calibration["kept"]["kept"] == PLAIN
    assert table.calibration["fitted_on"]["networks"] == 8  # validation skips them
    LatencyTable.from_dict(table.to_dict())  # and it loads


def test_a_worse_recalibration_keeps_the_previous_one(profiled):
    table = copy.deepcopy(profiled)
    first = calibrate_table(table, samples=24, seed=1, backend=FakeBackend(seed=1))
    assert first["kept"]["kept"] == NEW  # the overhead makes the plain sum wrong
    before = copy.deepcopy(table.calibration)
    reference, identity = dict(table.reference), table.content_hash()
    # four networks on a noisy machine: each fold's fit goes through three noisy points
    again = calibrate_table(table, samples=4, seed=5, backend=FakeBackend(seed=3, noise=0.3),
                            reference=False)
    kept = again["kept"]
    assert kept["kept"] == PREVIOUS, kept["why"]
    assert kept["why"].startswith("kept the previous calibration") and "not stored" in kept["why"]
    assert {k: v for k, v in table.calibration.items() if k != "kept"} == \
        {k: v for k, v in before.items() if k != "kept"}
    assert table.reference == reference  # still anchored where its coefficients are
    assert table.content_hash() == identity  # the same predictions: its validation holds
    assert kept["rejected_fit"]["intercept_ms"] == again["fit"]["intercept_ms"]


def test_verdict_line_usable_and_each_kind_of_failure():
    good = verdicts.verdict(0.96, 0.93, 0.97)
    assert good["usable"] and good["line"] == (
        "usable: 96% within ±10% (needs 80%), Kendall τ 0.93 (needs 0.80); the machine "
        "repeats itself 97% within ±10%; verdict: trust")
    noisy = verdicts.verdict(0.35, 0.60, 0.62, table="t.json", threads=2)
    assert not noisy["usable"] and noisy["line"].startswith("not usable: 35% within ±10%")
    assert "repeats itself 62% within ±10% (needs 90%)" in noisy["line"]
    assert "quieter machine" in noisy["line"] and "--threads 1" in noisy["line"]
    assert "--latency-stat p10" in noisy["line"] and noisy["level"] == "do not use"
    low = verdicts.verdict(0.35, 0.60, 0.62, table="t.json", threads=1, stat="p10")
    assert "--latency-stat" not in low["line"] and "--threads 1" not in low["line"]
    table_misses = verdicts.verdict(0.5, 0.9, 0.95, table="t.json", threads=1, samples=24)
    assert "the table is what misses" in table_misses["line"]
    assert "`hwnas tables calibrate t.json --samples 60`" in table_misses["line"]
    assert "--threads 1" not in table_misses["line"]
    unknown = verdicts.verdict(0.9, float("nan"), None)
    assert not unknown["usable"] and "τ n/a" in unknown["line"]
    assert "--noise-samples 30" in unknown["line"]
    # with the same networks re-measured: which of the table and the machine is the limit
    ceiling = {"n": 30, "within_10_predicted": 0.85, "within_10_remeasured": 0.87,
               "tau_predicted": 0.9, "tau_remeasured": 0.93}
    trust = verdicts.verdict(0.84, 0.9, 0.87, ceiling=ceiling)
    assert (trust["level"], trust["limit"]) == ("trust", "machine")
    assert trust["line"].endswith("verdict: trust (the machine is the limit: on the same 30 "
                                  "networks the table has 85% within ±10% and τ 0.90, the "
                                  "machine re-measuring itself 87% and τ 0.93)")
    behind = verdicts.verdict(0.84, 0.9, 0.99, ceiling={**ceiling, "within_10_remeasured": 0.99})
    assert (behind["level"], behind["limit"]) == ("use with care", "table")
    noisy_machine = verdicts.verdict(0.6, 0.85, 0.62, ceiling={
        **ceiling, "within_10_predicted": 0.6, "within_10_remeasured": 0.62})
    assert (noisy_machine["level"], noisy_machine["limit"]) == ("use with care", "machine")
    assert verdicts.verdict(0.6, 0.85, 0.95, ceiling={
        **ceiling, "within_10_predicted": 0.6, "within_10_remeasured": 0.95})["level"] \
        == "do not use"
    assert "\n" not in good["line"] + noisy["line"] + table_misses["line"] + unknown["line"]


def test_calibrate_and_validate_end_with_the_verdict(profiled, tmp_path, monkeypatch, capsys):
    """Through the command line (in-process, the fake backend standing in for the table's):
    validate's last line is its verdict, as stored in its report; calibrate says what it kept,
    that the validation beside the table is now stale, and ends with its verdict."""
    import json

    from hwnas.cli import app
    from hwnas.cli.errors import run_app

    path = copy.deepcopy(profiled).save(tmp_path / "t.json")
    monkeypatch.setattr("hwnas.tables.validate.table_backend",
                        lambda table, allow_mismatch=False: (FakeBackend(seed=4), []))
    monkeypatch.setattr("hwnas.tables.calibrate.table_backend",
                        lambda table, allow_mismatch=False: (FakeBackend(seed=1), []))

    from hwnas.cli.render import console

    # wide enough that rich never folds a long temporary path in the middle (under xdist the
    # path is longer, and a fold put a space inside it)
    monkeypatch.setattr(console, "_width", 2000)

    def run(*argv) -> str:
        assert run_app(app, [str(a) for a in argv]) == 0
        return " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width

    out = run("tables", "validate", path, "--samples", "8", "--noise-samples", "4")
    report = json.loads(path.with_suffix(".validation.json").read_text())
    assert report["table_hash"] == LatencyTable.load(path).content_hash()
    v = report["metrics"]["verdict"]
    assert out.endswith(v["line"])
    # the fake machine repeats itself (2% noise); the plain sum misses its call overhead
    assert v["repeats"] >= 0.9 and not v["usable"] and "the table is what misses" in v["line"]
    out = run("tables", "calibrate", path, "--samples", "12", "--rounds", "2")
    calibrated = LatencyTable.load(path)
    kept = calibrated.calibration["kept"]
    assert kept["why"] in out and f"table hash now {calibrated.short_hash()}" in out
    assert f"{path.with_suffix('.validation.json')} beside it validated the table as it was " \
           f"and is now stale: re-run `hwnas tables validate {path}`" in out
    assert out.endswith(kept["verdict"]["line"])
    assert kept["repeats"] >= 0.9  # two passes of each network agree
    assert kept["verdict"]["line"].startswith(("usable (cross-validated): ",
                                               "not usable (cross-validated): "))
