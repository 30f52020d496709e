import json

import numpy as np
import pytest

from hwnas.errors import BadInputError
from hwnas.latency import calibration
from hwnas.latency.table import LatencyTable
from hwnas.ops import OpSignature


def synthetic(n_networks=40, seed=0):
    """Networks of a fixed stem, 1-5 random blocks and a fixed head, with a known truth."""
    rng = np.random.default_rng(seed)
    blocks = [OpSignature("mbconv", 8, 8, 8, 8, kernel=k, stride=1, expand=e)
              for k in (3, 5, 7) for e in (3, 6)]
    stem, head = OpSignature("stem", 3, 8, 8, 8, kernel=3), OpSignature("head", 8, 16, 8, 8,
                                                                         classes=10)
    entries = {s.key: {"p50": float(v), "p90": float(v), "mean": float(v), "std": 0.0, "n": 5}
               for s, v in zip([stem, head, *blocks], rng.uniform(0.1, 1.0, 8), strict=True)}
    networks = [[stem, *rng.choice(blocks, rng.integers(1, 6)), head] for _ in range(n_networks)]

    def truth(sigs):  # whole network pays the call overhead once: 0.02 ms less per extra op
        return 0.05 + sum(0.8 * entries[s.key]["p50"] if s.op == "mbconv" else
                          entries[s.key]["p50"] for s in sigs) - 0.02 * len(sigs)

    return networks, [truth(n) for n in networks], entries, truth


def test_fit_recovers_a_known_affine_truth_and_pins_constant_types():
    networks, measured, entries, truth = synthetic()
    coef = calibration.fit(networks, measured, entries)
    assert coef["scales"]["mbconv"] == pytest.approx(0.8, rel=1e-6)
    assert coef["scales"]["stem"] == 1.0 and coef["scales"]["head"] == 1.0
    assert coef["per_op_ms"] == pytest.approx(-0.02, abs=1e-6)
    assert coef["intercept_ms"] == pytest.approx(0.05, abs=1e-6)
    held_out, _, _, _ = synthetic(seed=1)
    for sigs in held_out[:10]:  # same ops, other networks: the fit generalises exactly
        assert calibration.apply(coef, sigs, entries, "p50") == pytest.approx(truth(sigs),
                                                                              rel=1e-6)


def test_table_uses_calibration_everywhere_and_round_trips(tmp_path):
    networks, measured, entries, truth = synthetic()
    table = LatencyTable(backend="ort-cpu", device={"cpu": "x"}, entries=entries,
                         space={"name": "proxyless", "config": {}})
    plain = table.predict_ops(networks[0])
    table.calibration = calibration.fit(networks, measured, entries)
    assert table.predict_ops(networks[0]) == pytest.approx(truth(networks[0]), rel=1e-6)
    assert table.predict_ops(networks[0], calibrated=False) == pytest.approx(plain)
    again = LatencyTable.load(table.save(tmp_path / "t.json"))
    assert again.predict_ops(networks[0]) == pytest.approx(table.predict_ops(networks[0]))


@pytest.mark.parametrize("bad", [{"kind": "pickle"}, {"kind": calibration.KIND,
                                                      "intercept_ms": float("inf"),
                                                      "per_op_ms": 0, "scales": {}}])
def test_load_rejects_unknown_or_non_finite_calibration(tmp_path, tiny_table_path, bad):
    raw = json.loads(tiny_table_path.read_text())
    raw["calibration"] = bad
    (tmp_path / "t.json").write_text(json.dumps(raw).replace("Infinity", "1e999"))
    with pytest.raises(BadInputError, match="calibration"):
        LatencyTable.load(tmp_path / "t.json")


def test_fit_needs_enough_networks():
    networks, measured, entries, _ = synthetic(3)
    with pytest.raises(BadInputError, match="at least 4"):
        calibration.fit(networks, measured, entries)


def test_validation_skips_the_networks_calibration_was_fitted_on(tiny_table_path):
    from hwnas.tables.calibrate import calibrate_table
    from hwnas.tables.validate import sample_archs, table_space

    table = LatencyTable.load(tiny_table_path)
    coefficients = calibrate_table(table, samples=6, seed=3)["fit"]
    fitted = set(coefficients["fitted_on"]["arch_keys"])
    assert len(fitted) == 6
    space = table_space(table)
    drawn = {a.key for a in sample_archs(space, 30, seed=3, exclude=fitted)}
    assert not drawn & fitted and len(drawn) == 30


def test_api_calibrates_and_validates_in_the_default_passes(tiny_table_path, tmp_path):
    """What `hwnas demo` and the benchmarks call: no `rounds` given means the default."""
    from hwnas import api
    from hwnas.tables.validate import DEFAULT_ROUNDS

    out = tmp_path / "calibrated.json"
    fit = api.calibrate_table(tiny_table_path, samples=4, seed=3, out=out)
    assert fit["calibration"]["fitted_on"]["rounds"] == DEFAULT_ROUNDS
    assert fit["reference"]["drift"]["n"] == DEFAULT_ROUNDS * 4 + 1
    report = api.validate_table(out, samples=3, seed=4, noise_samples=1)
    assert report["rounds"] == DEFAULT_ROUNDS
    assert len(report["reference_ms"]) == DEFAULT_ROUNDS * (3 + 1)
    with pytest.raises(BadInputError, match="rounds must be"):
        api.calibrate_table(tiny_table_path, samples=4, rounds=0, out=tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()
