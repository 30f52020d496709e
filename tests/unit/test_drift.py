"""The reference workload at work, on a fake backend whose speed we control.

The fake's "latency" of a model is a deterministic function of its weights (additive over
ops, plus a call overhead each measured model pays once), times the machine's speed now,
times multiplicative noise. No wall clock is read, so the tests are exact and fast.
"""

import numpy as np
import pytest

from hwnas.errors import BadInputError
from hwnas.latency import drift
from hwnas.latency.table import LatencyTable
from hwnas.tables.calibrate import calibrate_table
from hwnas.tables.profile import profile_ops
from hwnas.tables.validate import validate_table
from profilers import Measurement

NOISE = 0.02  # sigma of the fake's multiplicative (log-normal) noise per measurement


class FakeBackend:
    """Speed `speed` (x slower) plus `slope` per measurement (linear drift during a run)."""

    name, input_format, device_kind, batch, dtype, threads = "fake", "torch", "cpu", 1, "fp32", 1

    def __init__(self, seed=0, noise=NOISE, speed=1.0, slope=0.0):
        self.rng = np.random.default_rng(seed)
        self.noise, self.speed, self.slope, self.calls = noise, speed, slope, 0

    def true_ms(self, model) -> float:
        return 0.02 + 1e-5 * sum(p.numel() for p in model.parameters())

    def measure(self, model, input_shape) -> Measurement:
        self.calls += 1
        speed = self.speed * (1.0 + self.slope * self.calls)
        ms = self.true_ms(model) * speed * float(np.exp(self.rng.normal(0.0, self.noise)))
        return Measurement(p50=ms, p90=ms, mean=ms, std=0.0, n=10)

    def fingerprint(self) -> dict:
        return {"cpu": "Fake CPU", "backend": self.name}


@pytest.fixture(scope="module")
def calibrated(tiny_space):
    """A table profiled and calibrated at speed 1.0, with the reference workload."""
    fake = FakeBackend(seed=1)
    table = profile_ops(tiny_space, tiny_space.all_ops(), "fake", threads=1, backend=fake)
    calibrate_table(table, samples=24, seed=1, backend=fake)
    return table


def test_profile_stores_a_reference_and_normalises_entries(tiny_space):
    fake = FakeBackend(seed=2, slope=0.005)  # the machine slows 0.5% per measurement
    table = profile_ops(tiny_space, tiny_space.all_ops(), "fake", threads=1, backend=fake,
                        passes=1)
    ref = table.reference
    assert ref["source"] == "profile" and ref["key"] in table.entries
    assert ref["drift"]["n"] >= len(table.entries) // 4 and ref["drift"]["last_vs_first"] > 0.05
    # raw times grew with the drift; normalised ones are the truth at the reference's speed
    errs_norm, errs_raw = [], []
    for sig in tiny_space.all_ops():
        e = table.entries[sig.key]
        truth = fake.true_ms(tiny_space.build_op(sig))
        errs_norm.append(e["p50"] / truth)
        errs_raw.append(e["extra"]["raw_p50"] / truth)
    # normalised: one constant (the speed at the reference's median) up to the noise
    assert np.std(np.log(errs_norm)) < 2 * NOISE
    assert np.std(np.log(errs_raw)) > 3 * NOISE
    again = LatencyTable.from_dict(table.to_dict())
    assert again.reference == ref


def test_speed_step_between_calibration_and_validation(calibrated):
    """The issue's test: the machine is 20% slower at validation time."""
    with_ref = validate_table(calibrated, samples=30, seed=5, noise_samples=20,
                              backend=FakeBackend(seed=3, speed=1.2)).metrics
    without = validate_table(calibrated, samples=30, seed=5, noise_samples=20,
                             backend=FakeBackend(seed=3, speed=1.2), reference=False).metrics
    floor = with_ref["noise_floor"]["median"]
    # With the reference: errors as small as re-measuring the same network moves it.
    assert abs(with_ref["median_error"]) < NOISE
    assert with_ref["mape"] < 1.5 * floor and with_ref["within_10"] == 1.0
    # the speed against the table's is part of the drift it reports, not a note with advice:
    # every network here is divided by it, so it changes nothing the validation decides
    assert with_ref["drift"]["vs_table"] == pytest.approx(0.2, abs=0.05)
    assert "20% slower than when the table's reference was timed" in \
        drift.describe_drift(with_ref["drift"])
    assert not any("slower" in n for n in with_ref["notes"])
    # Without it: every network reads about 1/1.2 - 1 = -17% off.
    assert without["median_error"] == pytest.approx(1 / 1.2 - 1, abs=0.03)
    assert without["within_10"] < 0.2 and without["mape"] > 5 * floor
    # ... and the report of the reference run scores its own raw times the same way
    assert with_ref["raw"]["median_error"] == pytest.approx(1 / 1.2 - 1, abs=0.03)


def test_linear_drift_during_validation(calibrated):
    """Speed drifting +40% over the validation run itself."""
    kwargs = dict(samples=30, seed=6, noise_samples=0, rounds=1)
    with_ref = validate_table(calibrated, **kwargs,
                              backend=FakeBackend(seed=4, slope=0.4 / 60)).metrics
    without = validate_table(calibrated, **kwargs, reference=False,
                             backend=FakeBackend(seed=4, slope=0.4 / 60)).metrics
    assert with_ref["drift"]["last_vs_first"] > 0.2 and with_ref["drift"]["n"] == 31
    assert with_ref["within_10"] == 1.0 and with_ref["mape"] < 2 * NOISE
    assert without["within_10"] < 0.5 and without["mape"] > 4 * NOISE


def test_old_table_without_reference_says_once_and_validates(calibrated):
    old = LatencyTable.from_dict({**calibrated.to_dict(), "reference": None})
    m = validate_table(old, samples=6, seed=7, noise_samples=0,
                       backend=FakeBackend(seed=5)).metrics
    assert m["notes"] == [
        "the table has no reference workload, so the machine's drift cannot be checked; "
        "`hwnas tables calibrate TABLE` adds one"]
    assert not m["reference"] and m["drift"] == {}


def test_calibration_reanchors_an_old_table(calibrated, tiny_space):
    old = LatencyTable.from_dict({**calibrated.to_dict(), "reference": None})
    calibrate_table(old, samples=12, seed=8, backend=FakeBackend(seed=6, speed=1.3))
    # the table now speaks ms at speed 1.3: the reference's stored time says so
    ref_truth = FakeBackend().true_ms(tiny_space.build_op(
        next(s for s in tiny_space.all_ops() if s.key == old.reference["key"])))
    assert old.reference["ms"] == pytest.approx(1.3 * ref_truth, rel=3 * NOISE)
    m = validate_table(old, samples=20, seed=9, noise_samples=0,
                       backend=FakeBackend(seed=7, speed=1.0)).metrics
    assert m["within_10"] == 1.0 and abs(m["median_error"]) < NOISE


def test_speed_note_only_for_a_latency_limit(calibrated, tmp_path):
    """A search says the machine's speed moved only when it holds a limit in ms, and then
    what a network at the limit takes now and the limit that means that at this speed."""
    from hwnas.api.tables import table_speed_note

    path = calibrated.save(tmp_path / "t.json")
    limits = [("--target-ms ", [3.0])]
    note = table_speed_note(path, limits, backend=FakeBackend(seed=8, noise=0.0, speed=1.25))
    assert "\n" not in note and "25% slower" in note
    assert "about 3.75 ms here now" in note and "pass --target-ms 2.4 instead" in note
    assert "tables calibrate" not in note  # re-anchoring cannot hold on a drifting machine
    # no limit: the ranking is the same at any uniform speed, nothing to say (nor to time)
    assert table_speed_note(path, (), backend=FakeBackend(seed=8, noise=0.0, speed=1.25)) \
        is None
    assert table_speed_note(path, limits,
                            backend=FakeBackend(seed=8, noise=0.0, speed=1.05)) is None
    assert "faster" in table_speed_note(path, limits,
                                        backend=FakeBackend(seed=8, noise=0.0, speed=0.8))
    old = LatencyTable.from_dict({**calibrated.to_dict(), "reference": None})
    assert table_speed_note(old.save(tmp_path / "old.json"), limits,
                            backend=FakeBackend()) is None


def test_median_of_neighbouring_references_beats_the_adjacent_pair():
    """The statistic: drift, noise and preemption spikes (5% of measurements 1.5x slower)."""
    rng = np.random.default_rng(0)
    n = 400
    speed = 1.0 + 0.3 * np.arange(2 * n + 1) / (2 * n)  # +30% over the run
    noisy = np.exp(rng.normal(0, NOISE, 2 * n + 1)) * np.where(rng.random(2 * n + 1) < 0.05,
                                                             1.5, 1.0)
    observed = speed * noisy
    ref_pos, item_pos = np.arange(0, 2 * n + 1, 2), np.arange(1, 2 * n, 2)
    refs, items = observed[ref_pos], observed[item_pos] * 3.0  # items: 3x the reference

    def error(window):
        ratio = items / drift.local_reference(ref_pos, refs, item_pos, window)
        return np.abs(ratio / 3.0 - 1)

    adjacent, median5 = error(2), error(drift.WINDOW)
    assert np.mean(median5) < 0.8 * np.mean(adjacent)
    assert np.quantile(median5, 0.9) < np.quantile(adjacent, 0.9)
    # both follow the drift: the item's own noise, not the 30% trend, is what remains
    assert np.median(median5) < 2 * NOISE


class BurstyBackend(FakeBackend):
    """A shared VM's jitter: a measurement hit by a burst of load (probability `p`) reads
    `factor` times slower; bursts are too short for the references around it to see."""

    def __init__(self, seed=0, p=0.1, factor=1.4):
        super().__init__(seed=seed)
        self.p, self.factor = p, factor
        self.burst_rng = np.random.default_rng(seed + 1000)

    def measure(self, model, input_shape) -> Measurement:
        m = super().measure(model, input_shape)
        if self.burst_rng.random() < self.p:
            ms = m.p50 * self.factor
            return Measurement(p50=ms, p90=ms, mean=ms, std=0.0, n=10)
        return m


def test_passes_drop_measurements_hit_by_a_burst(calibrated):
    """One pass lets a tenth of the networks through 40% slow; the median of three passes,
    spread over the run, drops a burst unless it hits the same network twice (about 3%)."""
    kwargs = dict(samples=60, seed=12, noise_samples=20)
    one = validate_table(calibrated, **kwargs, rounds=1, backend=BurstyBackend(seed=1)).metrics
    three = validate_table(calibrated, **kwargs, rounds=3, backend=BurstyBackend(seed=1)).metrics
    assert one["within_10"] < 0.92 and one["noise_floor"]["p90"] > 0.2
    assert three["within_10"] >= 0.95 and three["mape"] < 0.6 * one["mape"]
    assert three["noise_floor"]["p90"] < 0.1
    assert three["drift"]["n"] == 3 * (60 + 20) + 1
    with pytest.raises(BadInputError, match="rounds must be an integer from 1"):
        validate_table(calibrated, samples=4, rounds=0, backend=FakeBackend())


def test_drift_summary_and_message():
    s = drift.drift_summary([0, 60, 120, 180], [1.0, 1.1, 1.2, 1.3])
    assert s["trend_per_min"] == pytest.approx(0.1 / 1.15) and s["last_vs_first"] == \
        pytest.approx(0.3)
    assert "range 26.1%" in drift.describe_drift(s)
    limits = [("--sweep target_ms=", [2.0, 4.0])]
    assert drift.limit_message("t.json", 1.0, 1.09, limits) is None
    assert drift.limit_message("t.json", 1.0, 0.85, []) is None
    line = drift.limit_message("t.json", 1.0, 0.85, limits)
    assert "15% faster" in line and "pass --sweep target_ms=2.35,4.71 instead" in line
    # a table whose own error is larger than the change: the change moves nothing
    assert drift.limit_message("t.json", 1.0, 0.85, limits, threshold=0.2) is None


def test_drift_benchmark_script_on_a_fake_backend(calibrated, tmp_path):
    """benchmarks/table_drift.py end to end, tiny and fake: one calibration, two rounds."""
    import importlib.util

    from tests.unit.test_residual import ROOT

    spec = importlib.util.spec_from_file_location("table_drift",
                                                  ROOT / "benchmarks" / "table_drift.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    calibrated.save(tmp_path / "t.json")
    args = script.parse(["--table", str(tmp_path / "t.json"), "--fit", "12", "--samples", "8",
                         "--noise", "4", "--repeats", "2", "--interval-min", "0", "--rounds", "2",
                         "--out", str(tmp_path / "out" / "drift.json")])
    fake = FakeBackend(seed=11)
    summary = script.run(args, backend=fake)
    assert [r["round"] for r in summary["rounds"]] == [0, 1]
    first = summary["rounds"][0]
    # two passes of 8 networks and 4 re-measured ones, a reference after each and one first
    assert first["reference"]["drift"]["n"] == 2 * (8 + 4) + 1
    assert first["reference, 1 pass"]["drift"]["n"] == 8 + 4 + 1
    assert first["no reference"]["drift"] == {}
    assert "raw" in first["reference"] and "raw" not in first["no reference"]
    md = (tmp_path / "out" / "drift.md").read_text()
    # header, rule, (ref, ref raw, 1 pass, 1 pass raw, no ref) x 2 repeats
    assert md.count("\n") == 2 + 2 * 5


def test_noise_ceiling_puts_the_machine_beside_the_prediction():
    """The re-measurement used as a prediction: its share within ±10% and its τ are what the
    machine reaches on the same networks, computed on the same set as the table's."""
    from hwnas.tables.validate import noise_ceiling

    first = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # the first measurement of every network
    again = [1.05, 2.5, 2.9, 4.6, 5.2]  # five re-measured: 2.5 and 4.6 are 25% and 15% off
    predicted = [1.0, 2.1, 3.5, 3.9, 5.0, 9.9]  # the sixth is not re-measured: not counted
    c = noise_ceiling(first, again, predicted)
    assert c["n"] == 5
    assert c["within_10_remeasured"] == pytest.approx(3 / 5)
    assert c["within_10_predicted"] == pytest.approx(4 / 5)  # 3.5 is 17% off 3.0
    assert c["tau_remeasured"] == pytest.approx(1.0) and c["tau_predicted"] == pytest.approx(1.0)
