"""MOBO: exact EHVI (hand-computed and Monte Carlo checks), the Hamming-kernel GP against
scikit-learn, exact device costs with zero variance, Kriging-believer batches of q distinct
proposals, enumeration of small spaces, failed results, and `hwnas search --method mobo`."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from hwnas.analysis.pareto import Normaliser, hypervolume, to_min
from hwnas.bayesopt.ehvi import expected_hvi, front_mask, nondominated_boxes, promising
from hwnas.bayesopt.gp import Fantasies, GroupedHammingGP, HammingGP, _neg_log_likelihood
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.core.costs import CostModel
from hwnas.core.failure import failed_result
from hwnas.objectives import parse_objectives
from hwnas.registry import STRATEGIES
from hwnas.runs import RunDir
from hwnas.spaces.nb201 import Nb201Space
from hwnas.strategies.surrogate import OneHot

NB201 = Nb201Space()
OBJECTIVES = parse_objectives("accuracy,latency_ms")
GAIN = np.array([0.0, 1.0, 3.0, 5.0, 0.5])  # per op of CELL_OPS, as the synthetic table
COST = np.array([0.0, 0.05, 1.0, 2.5, 0.3])


def nb_toy(arch) -> dict:
    """Accuracy grows with convolutions, latency with their cost, per-edge weights."""
    x = NB201.encode(arch)
    w = 1 + 0.07 * np.arange(6)
    return {"accuracy": float(40 + (GAIN[x] * w).sum()),
            "latency_ms": float(1 + (COST[x] * (1 + 0.11 * np.arange(6))).sum())}


COSTS = CostModel(["latency_ms"], nb_toy)


def mobo(**options):
    return STRATEGIES.get("mobo")(NB201, OBJECTIVES, seed=options.pop("seed", 0), costs=COSTS,
                                  **options)


def drive(strategy, budget: int, batch: int = 1, result=nb_toy):
    archs = []
    while len(archs) < budget:
        asked = strategy.ask(min(batch, budget - len(archs)))
        strategy.tell(asked, [result(a) for a in asked])
        archs += asked
    return archs


# -- EHVI -------------------------------------------------------------------------------------
FRONT = np.array([[0.2, 0.8], [0.5, 0.5], [0.8, 0.2]])
REF = np.array([1.1, 1.1])


def test_ehvi_prefers_the_point_that_extends_the_front():
    tiny = np.full((2, 2), 1e-6)
    dominated, extending = [0.6, 0.6], [0.35, 0.35]
    gain = expected_hvi(np.array([dominated, extending]), tiny, FRONT, REF)
    assert gain[0] < 1e-12  # adds no hypervolume
    assert gain[1] == pytest.approx(0.1125, abs=1e-6)  # the staircase area it adds, by hand
    assert gain[1] > 1e6 * max(gain[0], 1e-300)


def test_ehvi_matches_a_hand_computed_value():
    """Front {(0.5, 0.5)}, reference (1, 1); the first objective exact at 0.25, the second
    N(0.5, 0.1^2). Stripes: x < 0.5 (up to 1) and 0.5 <= x < 1 (up to 0.5):
    EHVI = (0.5 - 0.25) E[(1 - Y)^+] + (1 - 0.5) E[(0.5 - Y)^+], where
    E[(a - Y)^+] = sigma phi(z) + (a - mu) Phi(z), z = (a - mu) / sigma: z = 5, then z = 0."""
    gain = expected_hvi([[0.25, 0.5]], [[0.0, 0.1]], [[0.5, 0.5]], [1.0, 1.0])
    by_hand = 0.25 * (0.1 * norm.pdf(5) + 0.5 * norm.cdf(5)) + 0.5 * 0.1 * norm.pdf(0)
    assert gain[0] == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(0.25 * 0.5 + 0.05 * norm.pdf(0), rel=1e-7)


def test_with_no_variance_ehvi_is_the_hypervolume_improvement():
    from pymoo.indicators.hv import HV

    rng = np.random.default_rng(0)
    for m in (2, 3):
        front = rng.random((8, m))
        ref = np.full(m, 1.1)
        points = rng.random((20, m))
        gain = expected_hvi(points, 0.0, front, ref)
        base = HV(ref_point=ref)(front)
        exact = [HV(ref_point=ref)(np.vstack([front, p])) - base for p in points]
        np.testing.assert_allclose(gain, exact, atol=1e-12)


@pytest.mark.parametrize("m", [2, 3])
def test_ehvi_matches_monte_carlo(m):
    rng = np.random.default_rng(m)
    front = rng.random((6, m))
    ref = np.full(m, 1.1)
    mu, sd = rng.random((3, m)) * 0.8 + 0.1, rng.random((3, m)) * 0.15 + 0.02
    sd[0, 0] = 0.0  # an exact objective among random ones
    gain = expected_hvi(mu, sd, front, ref)
    for i in range(3):  # improvement of each sample: EHVI with no variance (checked above)
        samples = mu[i] + sd[i] * rng.standard_normal((20000, m))
        hvi = expected_hvi(samples, 0.0, front, ref)
        err = 4 * hvi.std() / np.sqrt(len(hvi)) + 1e-6  # + a rare event's share
        assert abs(gain[i] - hvi.mean()) < err, (i, gain[i], hvi.mean(), err)


def test_boxes_cover_exactly_what_the_front_does_not_dominate():
    from pymoo.indicators.hv import HV

    rng = np.random.default_rng(1)
    front = rng.random((7, 3))
    ref = np.full(3, 1.1)
    lower, upper = nondominated_boxes(front, ref)
    volume = np.prod(upper - np.maximum(lower, 0.0), axis=1)  # the front lies in [0, 1]^3
    assert np.all(volume >= 0)
    assert volume.sum() == pytest.approx(1.1 ** 3 - HV(ref_point=ref)(front), abs=1e-12)


def test_pruning_keeps_every_candidate_that_could_improve():
    rng = np.random.default_rng(2)
    mu, sd = rng.random((500, 2)), rng.random((500, 2)) * 0.05
    keep = promising(mu, sd, FRONT, REF)
    gain = expected_hvi(mu, sd, FRONT, REF)
    assert not keep.all() and keep.any()
    assert gain[~keep].max() < 1e-14  # the skipped ones: nothing but a far tail
    assert gain.argmax() in np.flatnonzero(keep)


# -- the GP -----------------------------------------------------------------------------------
def _nb_rows(n, seed=0):
    rng = np.random.default_rng(seed)
    archs = [NB201.sample(rng) for _ in range(n)]
    return archs, OneHot(NB201)(archs).astype(np.float32)


def test_gp_posterior_matches_scikit_learn_after_appending_rows():
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    archs, X = _nb_rows(70)
    y = np.array([nb_toy(a)["accuracy"] for a in archs])
    y = (y - y.mean()) / y.std()
    n_labels = len(NB201.choices()) + len(NB201.derived_choices())
    gp = HammingGP(n_labels, universe=X[40:])
    gp.fit_hyperparameters(X[:25], y[:25], n_restarts=1, random_state=0)
    gp.condition(X[:25])
    gp.append(X[25:40])  # the factor (and V over the universe) grow by rows
    mean, var, _ = gp.posterior(y[:40])
    mean_x, var_x, _ = gp.posterior(y[:40], X[40:])
    c, length, noise = gp.theta
    kernel = ConstantKernel(c, "fixed") * RBF(length, "fixed") + WhiteKernel(noise, "fixed")
    sk = GaussianProcessRegressor(kernel, optimizer=None).fit(X[:40].astype(float), y[:40])
    sk_mean, sk_std = sk.predict(X[40:].astype(float), return_std=True)
    np.testing.assert_allclose(mean, sk_mean, atol=1e-6)
    np.testing.assert_allclose(mean_x, sk_mean, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(var + noise), sk_std, atol=1e-6)  # sklearn adds noise
    np.testing.assert_allclose(var_x, var, atol=1e-9)
    assert np.corrcoef(mean, y[40:])[0, 1] > 0.9  # and it learnt the toy


def test_kriging_believer_is_conditioning_on_the_mean():
    """A fantasy at candidate s: the variances equal those of the GP refit with s added, and
    adding s with its own predicted mean as target leaves the mean unchanged."""
    archs, X = _nb_rows(60, seed=3)
    y = np.array([nb_toy(a)["accuracy"] for a in archs])
    y = (y - y.mean()) / y.std()
    gp = HammingGP(len(NB201.choices()) + len(NB201.derived_choices()))
    gp.fit_hyperparameters(X[:30], y[:30], n_restarts=0, random_state=0)
    gp.condition(X[:30])
    mean, var, V = gp.posterior(y[:30], X[30:])
    fantasy = Fantasies(gp, X[30:], var, V)
    for s in (4, 11):
        fantasy.condition_on(s)
    gp2 = HammingGP(gp.n_labels)
    gp2.theta = gp.theta
    gp2.condition(np.vstack([X[:30], X[30 + 4:30 + 5], X[30 + 11:30 + 12]]))
    mean2, var2, _ = gp2.posterior(np.concatenate([y[:30], mean[[4, 11]]]), X[30:])
    np.testing.assert_allclose(fantasy.var, var2, atol=1e-9)
    np.testing.assert_allclose(mean2, mean, atol=1e-9)
    assert fantasy.var[4] < 0.05 * var[4] + 1e-9  # nearly known now



def _nb_groups(encoder, per_label=False):
    from hwnas.strategies.mobo import new_gp

    return new_gp(NB201, encoder, "per_label" if per_label else "per_group").groups


def test_grouped_gp_likelihood_gradient_matches_finite_differences():
    archs, X = _nb_rows(40, seed=5)
    y = np.random.default_rng(5).normal(size=40)
    gp = GroupedHammingGP(_nb_groups(OneHot(NB201)))
    H = [h.astype(float) for h in gp._distances(X, X)]
    x0 = np.log([0.7, 2.0, 5.0, 0.05])
    _, grad = _neg_log_likelihood(x0, H, y)
    step = 1e-6
    numeric = [(_neg_log_likelihood(x0 + e, H, y)[0] - _neg_log_likelihood(x0 - e, H, y)[0])
               / (2 * step) for e in np.eye(4) * step]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_one_group_is_the_plain_gp_and_fits_as_scikit_learn_does():
    archs, X = _nb_rows(50, seed=2)
    y = np.array([nb_toy(a)["accuracy"] for a in archs])
    y = (y - y.mean()) / y.std()
    plain, grouped = HammingGP(18), GroupedHammingGP([(np.arange(X.shape[1]), 18)])
    plain.fit_hyperparameters(X, y, n_restarts=1, random_state=0)
    grouped.fit_hyperparameters(X, y, n_restarts=1, random_state=0)
    c, (length,), noise = grouped.theta
    np.testing.assert_allclose([c, length, noise], plain.theta, rtol=1e-3, atol=1e-5)
    grouped.theta = (plain.theta[0], (plain.theta[1],), plain.theta[2])
    np.testing.assert_allclose(grouped.kernel(X, X[:7]), plain.kernel(X, X[:7]), atol=1e-12)


def test_grouped_gp_grown_row_by_row_over_the_universe_equals_one_conditioning():
    """Appending rows one at a time (past the V buffer's spare rows, so it is replaced once)
    gives the posterior of conditioning on them all at once with the same hyperparameters,
    and the universe's cached column blocks give the distances a copy of it gets."""
    from hwnas.bayesopt.gp import _V_SPARE_ROWS

    archs, X = _nb_rows(160, seed=6)
    y = np.array([nb_toy(a)["accuracy"] for a in archs])
    y = (y - y.mean()) / y.std()
    groups = _nb_groups(OneHot(NB201))
    universe = X[100:]
    grown, whole = GroupedHammingGP(groups, universe), GroupedHammingGP(groups, universe)
    grown.fit_hyperparameters(X[:20], y[:20], n_restarts=0, random_state=0)
    whole.theta = grown.theta
    grown.condition(X[:20])
    for i in range(20, 20 + _V_SPARE_ROWS + 8):
        grown.append(X[i:i + 1])
    n = 20 + _V_SPARE_ROWS + 8
    whole.condition(X[:n])
    mean, var, V = grown.posterior(y[:n])
    mean_w, var_w, V_w = whole.posterior(y[:n])
    np.testing.assert_allclose(mean, mean_w, atol=1e-9)
    np.testing.assert_allclose(var, var_w, atol=1e-9)
    np.testing.assert_allclose(V, V_w, atol=1e-9)
    assert V.shape == (n, len(universe))
    for cached, fresh in zip(grown._distances(X[:5], universe),
                             grown._distances(X[:5], universe.copy()), strict=True):
        np.testing.assert_array_equal(cached, fresh)


def test_a_proposal_is_the_same_without_the_last_fantasy_update():
    """q = 1 skips the Kriging-believer update after the only pick; the pick of q = 2's first
    step is q = 1's (the update only ever moves the picks after it)."""
    one, two = mobo(n_init=10, q=1, seed=4), mobo(n_init=10, q=2, seed=4)
    assert drive(one, 10) == drive(two, 10)
    assert one.ask(1)[0] == two.ask(2)[0]


def test_per_label_length_scales_learn_which_labels_matter():
    """Accuracy read from the trained (effective) edges only: ARD over labels gives the raw
    labels long length scales, and predicts held-out cells better than one length scale."""
    from hwnas.spaces.nb201 import effective_choices

    weight = dict(zip(("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                       "avg_pool_3x3"), (0.0, 0.5, 2.0, 3.0, 0.2), strict=True))
    archs, X = _nb_rows(260, seed=4)
    y = np.array([sum(weight[op] * (1 + 0.2 * k) for k, op
                      in enumerate(effective_choices(a).values())) for a in archs])
    y = (y - y.mean()) / y.std()
    encoder = OneHot(NB201)
    ard, plain = GroupedHammingGP(_nb_groups(encoder, per_label=True)), HammingGP(18)
    errors = {}
    for name, gp in (("ard", ard), ("plain", plain)):
        gp.fit_hyperparameters(X[:200], y[:200], n_restarts=0, random_state=0)
        gp.condition(X[:200])
        mean, _, _ = gp.posterior(y[:200], X[200:])
        errors[name] = np.mean(np.abs(mean - y[200:]))
    lengths = np.array(ard.theta[1])
    assert np.median(lengths[:6]) > 3 * np.median(lengths[12:])  # raw labels: near-irrelevant
    assert errors["ard"] < 0.8 * errors["plain"]


# -- the strategy ------------------------------------------------------------------------------
def test_known_exact_objectives_get_zero_variance():
    strategy = mobo(n_init=12)
    drive(strategy, 12)
    rng = np.random.default_rng(9)
    archs = [NB201.sample(rng) for _ in range(30)]
    mean, std = strategy.predict(archs)
    latency = np.array([nb_toy(a)["latency_ms"] for a in archs])
    assert strategy.exact == [1] and strategy.modelled == [0]
    assert np.all(std[:, 1] == 0)
    np.testing.assert_allclose(mean[:, 1], latency, rtol=1e-12)
    assert np.all(std[:, 0] > 0)  # accuracy (min-form: negated) is modelled
    predicted = mobo(n_init=12, device_costs="predicted")
    drive(predicted, 12)
    _, std = predicted.predict(archs)
    assert predicted.modelled == [0, 1] and np.all(std[:, 1] > 0)


def noisy_toy(arch) -> dict:
    """nb_toy with a training run's noise on accuracy (seeded by the architecture)."""
    import zlib

    rng = np.random.default_rng(zlib.crc32(arch.key.encode()))
    out = nb_toy(arch)
    return {**out, "accuracy": out["accuracy"] + float(rng.normal(0.0, 4.0))}


def test_observed_ehvi_adds_the_fitted_noise_to_the_modelled_variance():
    runs = {}
    for over in ("latent", "observed"):
        strategy = mobo(n_init=80, ehvi_over=over)
        archs = drive(strategy, 81, result=noisy_toy)
        runs[over] = (strategy, archs)
    (latent, first), (observed, second) = runs["latent"], runs["observed"]
    assert [a.key for a in first[:80]] == [a.key for a in second[:80]]  # same random design
    Y = observed._targets()  # the GP's units (warped accuracy)
    Z = (Y - Y.min(axis=0)) / np.ptp(Y, axis=0)
    noise = observed._observation_noise(Z)
    gp_noise = observed._gps[0].theta[2]
    assert noise[1] == 0.0  # latency is exact: no noise to integrate over
    assert noise[0] == pytest.approx(gp_noise * Z[observed._rows, 0].std() ** 2)
    assert gp_noise > 1e-3  # the noise put into accuracy was found
    # more variance where it counts: the best candidate's expected improvement is larger
    assert observed.last_step["ehvi"][0] > latent.last_step["ehvi"][0] > 0


def coarse_toy(arch) -> dict:
    """noisy_toy with the latency rounded to whole milliseconds: a few cost levels, each
    shared by many cells (as HW-NAS-Bench's FPGA and Eyeriss latencies)."""
    out = noisy_toy(arch)
    return {**out, "latency_ms": float(np.round(out["latency_ms"]))}


def test_tied_ehvi_counts_the_results_told_at_each_candidates_cost_level():
    strategy = STRATEGIES.get("mobo")(NB201, OBJECTIVES, seed=0, n_init=40,
                                      costs=CostModel(["latency_ms"], coarse_toy),
                                      ehvi_over="tied")
    told = drive(strategy, 45, result=coarse_toy)
    archs, _, exact, _ = strategy.pool.candidates([])
    level, counts = strategy._tie_levels(exact)
    told_costs = [coarse_toy(a)["latency_ms"] for a in told]
    for i in range(0, len(archs), 997):  # a spread of cells, told or not
        assert counts[level[i]] == told_costs.count(exact[i, 0])
    assert counts.max() > 1  # levels shared by several results: the discount bites


def test_tied_ehvi_is_observed_where_no_cost_is_shared():
    # nb_toy's latency differs between every two cells: no candidate shares a told cost, so
    # every noise term counts whole and the proposals are those of `observed`
    keys = {over: [a.key for a in drive(mobo(n_init=20, ehvi_over=over), 30,
                                         result=noisy_toy)]
            for over in ("observed", "tied")}
    assert keys["observed"] == keys["tied"]
    assert mobo().options["ehvi_over"] == "tied"  # the default (mobo.py's option comment)


def test_reference_point_lies_beyond_every_known_cost_not_only_the_evaluated_ones():
    # Told only cheap cells (no convolution), slower cells must stay worth proposing: the
    # reference point is set beyond the slowest candidate the cost model knows. Set from the
    # results alone (1.1 x the slowest told), every slower cell sat beyond it with no EHVI,
    # and the front's slow end was never reached.
    strategy = mobo(n_init=1)
    rng = np.random.default_rng(4)
    cheap = ["none", "skip_connect", "avg_pool_3x3"]
    told = [NB201.decode([NB201.choices()[0][1].index(rng.choice(cheap)) for _ in range(6)])
            for _ in range(12)]
    first = strategy.ask(1)  # the initial design: told as failed (never fitted), and the
    strategy.tell(first + told,  # cheap cells told with it
                  [failed_result("not used")] + [nb_toy(a) for a in told])
    strategy.ask(1)  # one model step
    archs, X, exact, open_ = strategy.pool.candidates([])
    Y = strategy._targets()
    lo, hi = strategy._range(Y, exact)
    assert hi[1] == exact[:, 0].max() and hi[0] == Y[:, 0].max()
    span = hi - lo
    Z = (Y - lo) / span
    mu, var, _ = strategy._posterior(X, exact, Z, lo, span)
    worth = promising(mu, np.sqrt(var), Z[front_mask(Z)], np.full(2, 1.1))
    slow = exact[:, 0] > 1.1 * Y[:, 1].max()
    assert slow.sum() > 1000 and worth[slow & open_].mean() > 0.5


def test_copula_warp_fits_the_gp_to_rank_quantiles_and_predicts_in_units():
    from hwnas.bayesopt.warp import CopulaWarp

    strategy = mobo(n_init=30, warp="copula")
    archs = drive(strategy, 31)
    raw = np.array(strategy._Y)
    targets = strategy._targets()
    np.testing.assert_allclose(targets[:, 0], CopulaWarp(raw[:, 0]).z)
    np.testing.assert_array_equal(targets[:, 1], raw[:, 1])  # exact latency: not warped
    mean, sd = strategy.predict(archs[:31])
    # at the results told the GP interpolates (small fitted noise): back in accuracy units
    np.testing.assert_allclose(mean[:, 0], raw[:, 0], atol=0.05 * np.ptp(raw[:, 0]))
    assert np.all(sd[:, 0] >= 0) and np.all(sd[:, 1] == 0)
    plain = mobo(n_init=30, warp="none")
    drive(plain, 30)
    np.testing.assert_array_equal(plain._targets(), np.array(plain._Y))


def test_batches_of_q_distinct_proposals_independent_of_the_batch_size():
    strategy = mobo(n_init=8, q=4)
    first = strategy.ask(100)  # the initial design, then nothing until it is told
    assert len(first) == 8 and strategy.ask(5) == []
    strategy.tell(first, [nb_toy(a) for a in first])
    batch = strategy.ask(100)
    assert len(batch) == 4 and len({a.key for a in batch}) == 4
    assert not {a.key for a in batch} & {a.key for a in first}
    assert len(strategy.last_step["ehvi"]) == 4 and min(strategy.last_step["ehvi"]) > 0
    runs = {b: [a.key for a in drive(mobo(n_init=8, q=4, seed=5), 24, batch=b)]
            for b in (1, 3, 24)}
    assert runs[1] == runs[3] == runs[24]
    assert len(set(runs[1])) == 24
    assert [a.key for a in drive(mobo(n_init=8, q=4, seed=6), 24)] != runs[1]


def test_small_spaces_are_enumerated_large_ones_sampled():
    strategy = mobo(n_init=10)
    drive(strategy, 12)
    assert strategy.last_step["enumerated"] is True
    # every cell but the 11 handed out before the last step (10 initial, 1 proposed)
    assert strategy.last_step["n_candidates"] == NB201.size() - 11 == 15625 - 11
    sampled = mobo(n_init=10, enumerate_max=1000, n_random=40, max_neighbours=60)
    drive(sampled, 12)
    assert sampled.last_step["enumerated"] is False
    assert 0 < sampled.last_step["n_candidates"] <= 100


def test_failed_results_are_never_fitted_nor_proposed_again():
    count = {"n": 0}

    def sometimes_failing(arch):
        count["n"] += 1
        return failed_result("RuntimeError: injected") if count["n"] % 3 == 0 else nb_toy(arch)

    strategy = mobo(n_init=6, q=2, refit_every=3)
    archs = drive(strategy, 30, batch=2, result=sometimes_failing)
    failed = {a.key for i, a in enumerate(archs) if (i + 1) % 3 == 0}
    assert len({a.key for a in archs}) == 30  # nothing proposed twice, failures included
    assert len(strategy._archs) == 20 and not {a.key for a in strategy._archs} & failed
    assert not {strategy._archs[i].key for i in strategy._rows} & failed


def test_training_set_is_capped_to_the_best_layers_then_the_latest():
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    strategy = mobo(max_train=10)
    # arrival order: layer 1 (dominated) points interleaved with the front's 5 (layer 0)
    front = [np.array([i, 10.0 - i]) for i in range(5)]
    second = [np.array([i + 0.5, 11.0 - i]) for i in range(10)]
    strategy._Y = [second[0], front[0], second[1], second[2], front[1], second[3], front[2],
                   second[4], second[5], front[3], second[6], second[7], front[4], second[8],
                   second[9]]
    rows = strategy._training_rows().tolist()
    layer0 = [1, 4, 6, 9, 12]
    assert rows == sorted(layer0 + [8, 10, 11, 13, 14])  # the front, then the latest 5 others

    strategy = mobo(n_init=10, max_train=15, refit_every=1)
    drive(strategy, 30)
    Y = np.array(strategy._Y[:29])  # the rows were chosen before the last result came
    _, rank = NonDominatedSorting().do(Y, return_rank=True)
    rows = strategy._rows
    assert len(rows) == 15 and rows == sorted(rows)
    kept, left = rank[rows], np.delete(rank, rows)
    assert kept.max() <= left.min()  # whole layers first
    dropped = [i for i in np.flatnonzero(rank == kept.max()) if i not in rows]
    if dropped:  # within the layer that was cut, the latest were kept
        assert min(i for i in rows if rank[i] == kept.max()) > max(dropped)


def test_beats_random_search_on_the_toy():
    budget = 40
    archs = drive(mobo(seed=2), budget)
    rand = STRATEGIES.get("random")(NB201, OBJECTIVES, seed=2).ask(budget)
    F = np.array([[nb_toy(a)["accuracy"], nb_toy(a)["latency_ms"]] for a in archs])
    R = np.array([[nb_toy(a)["accuracy"], nb_toy(a)["latency_ms"]] for a in rand])
    dirs = ["max", "min"]
    norm_ = Normaliser.from_points(to_min(np.vstack([F, R]), dirs))
    hv = lambda X: hypervolume(X, dirs, normaliser=norm_).value  # noqa: E731
    assert hv(F) > hv(R) + 0.05



@pytest.mark.parametrize("length_scales, n_lengths", [("per_group", 2), ("per_label", 18)])
def test_length_scales_option_builds_the_grouped_gp(length_scales, n_lengths):
    strategies = [mobo(seed=3, n_init=8, refit_every=4, length_scales=length_scales)
                  for _ in range(2)]
    runs = [[a.key for a in drive(s, 20)] for s in strategies]
    assert runs[0] == runs[1] and len(set(runs[0])) == 20  # seeded, nothing proposed twice
    gp = strategies[0]._gps[0]
    assert isinstance(gp, GroupedHammingGP) and len(gp.theta[1]) == n_lengths
    plain = mobo(length_scales="one")._new_gp(None)
    assert isinstance(plain, HammingGP) and not isinstance(plain, GroupedHammingGP)


def test_search_on_a_tabular_benchmark(tmp_path):
    from tests.reliability.test_run_history import tabular_args
    from tests.tabular_helpers import write_synthetic_nb201

    csv = write_synthetic_nb201(tmp_path / "bench.csv")
    run_dir = tmp_path / "run"
    args = [*tabular_args(csv, run_dir, 16, "mobo"), "--strategy-opt", "q=3"]
    assert run_app(app, args) == 0
    records = RunDir(run_dir).history()
    assert len(records) == 16 and len({r["arch_key"] for r in records}) == 16
    assert all({"accuracy", "latency:pixel3"} <= set(r["result"]) for r in records)
