"""The learned whole-network residual: exported as plain data, predicted exactly with numpy,
chosen by cross-validation, better than the affine calibration where latency is not additive,
and absent from old tables, which predict exactly as before."""

import copy
import functools
import json
from pathlib import Path

import numpy as np
import pytest

from hwnas.errors import BadInputError
from hwnas.latency import calibration, residual
from hwnas.latency.table import LatencyTable
from hwnas.ops import OpSignature

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", residual.KINDS)
def test_exported_model_predicts_as_scikit_learn(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 7))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=80)
    model = residual._estimators(seed=0)[kind].fit(X, y)
    data = json.loads(json.dumps(residual.export(model, kind)))  # through JSON: plain data
    Xt = rng.normal(size=(500, 7))
    Xt[:50] = X[:50]  # training rows too: features equal to the fitted thresholds' sides
    assert np.max(np.abs(residual.predict(data, Xt) - model.predict(Xt))) < 1e-9


def non_additive(n_networks, seed):
    """Networks of a fixed stem, 1-10 blocks and a fixed head; the whole network pays a
    per-network overhead growing with the square of its op count (what no per-op sum has)."""
    rng = np.random.default_rng(seed)
    blocks = [OpSignature("mbconv", 8, 8, 8, 8, kernel=k, stride=1, expand=e)
              for k in (3, 5, 7) for e in (3, 6)]
    stem, head = OpSignature("stem", 3, 8, 8, 8, kernel=3), OpSignature("head", 8, 16, 8, 8,
                                                                         classes=10)
    values = np.random.default_rng(99).uniform(0.1, 1.0, 8)
    entries = {s.key: {"p50": float(v), "p90": float(v), "mean": float(v), "std": 0.0, "n": 5}
               for s, v in zip([stem, head, *blocks], values, strict=True)}
    networks = [[stem, *rng.choice(blocks, rng.integers(1, 11)), head]
                for _ in range(n_networks)]

    def truth(sigs):
        return sum(entries[s.key]["p50"] for s in sigs) + 0.004 * len(sigs) ** 2

    return networks, [truth(n) for n in networks], entries


@functools.cache
def _fitted(seed, force):
    from hwnas.tables.calibrate import _fit_residual

    networks, measured, entries = non_additive(60, seed)
    coef = calibration.fit(networks, measured, entries)
    affine = [calibration.apply(coef, n, entries, "p50") for n in networks]
    selection = _fit_residual(coef, networks, affine, measured, entries, 0, force, "p50")
    table = LatencyTable(backend="ort-cpu", device={"cpu": "x"}, entries=entries,
                         space={"name": "proxyless", "config": {}}, calibration=coef)
    return table.to_dict(), selection


def fitted_table(seed=0, force=None):
    """A table calibrated on 60 non-additive networks (fitted once per model, then copied)."""
    raw, selection = _fitted(seed, force)
    return LatencyTable.from_dict(copy.deepcopy(raw)), selection


def test_residual_fits_a_non_additive_term_better_on_held_out_networks(tmp_path):
    table, selection = fitted_table()
    assert selection["chosen"] != "none"
    cv = selection["cv"]
    assert set(cv) == {"none", "random-forest", "gradient-boosting", "linear"}
    assert cv[selection["chosen"]]["cv_mean_abs_log_error"] < cv["none"][
        "cv_mean_abs_log_error"]
    held_out, truth, _ = non_additive(40, seed=1)

    def mape(**kw):
        return np.mean([abs(table.predict_ops(n, **kw) / t - 1)
                        for n, t in zip(held_out, truth, strict=True)])

    assert mape() < 0.5 * mape(residual=False)
    # the JSON round trip keeps the model, and predictions to the last bit
    again = LatencyTable.load(table.save(tmp_path / "t.json"))
    assert again.calibration["residual"] == table.calibration["residual"]
    assert [again.predict_ops(n) for n in held_out] == [table.predict_ops(n) for n in held_out]
    assert "pickle" not in (tmp_path / "t.json").read_text()


@pytest.mark.parametrize("kind", residual.KINDS)
def test_every_kind_beats_affine_here_and_loads(kind, tmp_path):
    table, selection = fitted_table(force=kind)
    assert selection["chosen"] == kind and table.calibration["residual"]["kind"] == kind
    held_out, truth, _ = non_additive(30, seed=2)
    err = [abs(table.predict_ops(n) / t - 1) for n, t in zip(held_out, truth, strict=True)]
    affine = [abs(table.predict_ops(n, residual=False) / t - 1)
              for n, t in zip(held_out, truth, strict=True)]
    assert np.mean(err) < np.mean(affine)
    LatencyTable.load(table.save(tmp_path / "t.json"))


def test_additive_truth_keeps_no_residual():
    from hwnas.tables.calibrate import _fit_residual
    from tests.unit.test_calibration import synthetic

    networks, measured, entries, _ = synthetic(40)
    noisy = [m * float(np.exp(e)) for m, e in
             zip(measured, np.random.default_rng(0).normal(0, 0.02, 40), strict=True)]
    coef = calibration.fit(networks, noisy, entries)
    affine = [calibration.apply(coef, n, entries, "p50") for n in networks]
    assert _fit_residual(coef, networks, affine, noisy, entries, 0, None, "p50")["chosen"] == "none"
    assert "residual" not in coef


def test_a_model_that_wins_the_cross_validation_by_noise_is_not_kept():
    """The one-standard-error rule: a per-network gain smaller than its own standard error
    keeps the simpler candidate; a clear gain keeps the model; between two models that both
    clearly beat none, the simpler one when they are within noise of each other."""
    rng = np.random.default_rng(0)
    base = 0.05 + np.abs(rng.normal(0, 0.08, 60))
    marginal = {"none": base, "linear": base + 0.01, "gradient-boosting": base + 0.01,
                "random-forest": np.abs(base - 0.003 + rng.normal(0, 0.02, 60))}
    gain = base - marginal["random-forest"]
    assert 0 < gain.mean() < gain.std(ddof=1) / np.sqrt(60)  # lower, by less than its noise
    assert residual.one_standard_error_choice(marginal) == "none"
    clear = {**marginal, "random-forest": 0.5 * base}
    assert residual.one_standard_error_choice(clear) == "random-forest"
    close = {**clear, "linear": 0.5 * base + rng.normal(0.001, 0.01, 60)}
    loss = close["linear"] - close["random-forest"]
    assert 0 < loss.mean() < loss.std(ddof=1) / np.sqrt(60)  # worse, by less than its noise
    assert residual.one_standard_error_choice(close) == "linear"


@pytest.mark.parametrize("breakage", [
    lambda m: m.update(kind="pickle"),
    lambda m: m["trees"][0]["left"].__setitem__(0, 0),  # a node pointing at itself: a loop
    lambda m: m["trees"][0]["value"].__setitem__(0, "x"),
    lambda m: m.update(features=["n_ops"]),
    lambda m: m["trees"][0]["feature"].__setitem__(0, 999)])
def test_load_rejects_a_malformed_model_in_one_line(breakage, tmp_path):
    table, _ = fitted_table(force="random-forest")
    raw = table.to_dict()
    breakage(raw["calibration"]["residual"])
    (tmp_path / "t.json").write_text(json.dumps(raw))
    with pytest.raises(BadInputError, match="residual model") as err:
        LatencyTable.load(tmp_path / "t.json")
    assert "\n" not in str(err.value) and "tables calibrate" in str(err.value)


# Predictions of the committed tables, computed before the residual and the reference existed
# (the same networks: space.sample with default_rng(7), three draws).
GOLDEN = {
    "proxyless-ort-cpu-b1-fp32-i3-n10-r32-w1.json": [
        ("2963cc905b30", 1.779102898993749, 1.940929),
        ("2156f530a6c4", 1.919251242424737, 2.1084310000000004),
        ("1784da938c44", 2.141373370953464, 2.317756)],
    "proxyless-torch-cpu-b1-fp32-i3-n10-r32-w1.json": [
        ("2963cc905b30", 4.562121553358564, 4.433968),
        ("2156f530a6c4", 5.294736058175664, 5.180881),
        ("1784da938c44", 5.470948727196273, 5.291475)]}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_committed_old_tables_predict_exactly_as_before(name, tmp_path):
    from hwnas.tables.validate import table_space

    path = ROOT / "latency_tables" / "amd-epyc-2c" / name
    table = LatencyTable.load(path)
    assert table.reference is None and "residual" not in table.calibration
    space = table_space(table)
    rng = np.random.default_rng(7)
    for key, calibrated, plain in GOLDEN[name]:
        arch = space.sample(rng)
        assert arch.key == key
        assert table.predict_ops(space.ops(arch)) == calibrated
        assert table.predict_ops(space.ops(arch), calibrated=False) == plain
    # written back, an old table is the same JSON (no new keys appear)
    saved = table.save(tmp_path / name)
    assert json.loads(saved.read_text()) == json.loads(path.read_text())


def test_derive_checks_the_full_prediction_against_the_target(tiny_table_path, tiny_space):
    """A residual that makes deep networks dearer than their per-op sum: the repaired
    architecture's full prediction (residual included) meets --target-ms."""
    import torch

    from hwnas.oneshot.derive import derive
    from hwnas.oneshot.expected_cost import ExpectedCost

    table = LatencyTable.load(tiny_table_path)
    types = sorted({s.op for s in tiny_space.all_ops()})
    names = residual.feature_names(types)
    coef = [0.0] * len(names)
    coef[names.index("n_kernel_ops")] = 0.08  # +8% per kernel op: not a per-op constant
    table.calibration = {"kind": calibration.KIND, "stat": "p50", "intercept_ms": 0.0,
                         "per_op_ms": 0.0, "scales": dict.fromkeys(types, 1.0),
                         "residual": {"kind": "linear", "coef": coef, "intercept": -0.5,
                                      "types": types, "stat": "p50", "features": names}}
    residual.check(table.calibration["residual"], "test")
    cost = ExpectedCost(tiny_space, table)
    positions = tiny_space.positions()
    gen = torch.Generator().manual_seed(0)
    probs = [torch.softmax(torch.randn(len(p.options), generator=gen), 0) for p in positions]
    argmax = derive(probs, positions, tiny_space, cost)
    full = [table.predict_ops(tiny_space.ops(a)) for a in
            (tiny_space.sample(np.random.default_rng(i)) for i in range(200))]
    target = (argmax.cost + min(full)) / 2  # under the argmax, above the cheapest sampled
    assert argmax.cost > target
    out = derive(probs, positions, tiny_space, cost, target=target)
    assert out.cost == table.predict_ops(tiny_space.ops(out.arch)) <= target
    assert out.changed
