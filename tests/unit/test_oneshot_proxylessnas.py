"""ProxylessNAS: one path per weight step, binary-gate gradients equal to the dense reference,
the two-path rescale, the latency term, REINFORCE, and a repeatable run of the trainer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.supernet import Supernet
from hwnas.spaces.nb201 import Nb201Space
from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.strategies.proxyless_nas import ProxylessNAS, ProxylessNASStrategy, binary_gate
from tests.unit.test_oneshot_supernet import synthetic_table

SPACES = {
    "proxyless": lambda: ProxylessSpace(resolution=16, width_mult=0.25, num_classes=5),
    "nb201": lambda: Nb201Space(C=4, N=1, resolution=8, num_classes=5),
}


def options(**changes) -> dict:
    defaults = {k: o.default for k, o in ProxylessNASStrategy.option_specs.items()}
    return {**defaults, **changes}


def make(space, mode="two", cost=None, target=None, lam=0.3, seed=0, cls=ProxylessNAS,
         spread=1.0, dtype=torch.float32, **changes) -> ProxylessNAS:
    """A method on a fresh supernet whose α are random (`spread`), so p is not uniform."""
    torch.manual_seed(seed)
    supernet = Supernet(space).train().to(dtype)
    with torch.no_grad():
        for a in supernet.alphas:
            a.normal_(0, spread)
    optimizer = torch.optim.SGD(supernet.weight_parameters(), lr=0.05, momentum=0.9)
    return cls(supernet, optimizer, cost, target, lam, options(mode=mode, **changes),
               torch.Generator().manual_seed(seed))


def batch(space, n=8, seed=1, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, *space.input_shape, generator=gen, dtype=dtype),
            torch.randint(0, int(space.num_classes), (n,), generator=gen))


def count_calls(supernet):
    """Forward hooks counting each candidate's calls: {(position, instance, option): calls}."""
    calls = {}
    for p, ops in enumerate(supernet.mixed):
        for i, op in enumerate(ops):
            for j, candidate in enumerate(op.candidates):
                calls[(p, i, j)] = 0

                def hook(_m, _in, _out, key=(p, i, j)):
                    calls[key] += 1

                candidate.register_forward_hook(hook)
    return calls


# -- weight steps ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", SPACES)
def test_a_weight_step_runs_and_trains_one_path_per_position(name):
    space = SPACES[name]()
    method = make(space)
    supernet = method.supernet
    calls = count_calls(supernet)
    before = [[[[w.detach().clone() for w in c.parameters()] for c in op.candidates]
               for op in ops] for ops in supernet.mixed]
    method.weight_step(*batch(space))
    trained = 0
    for p, ops in enumerate(supernet.mixed):
        ran = {j for (q, _i, j), c in calls.items() if q == p and c}
        assert len(ran) == 1  # one option, the same in every instance of the position
        (chosen,) = ran
        for i, op in enumerate(ops):
            assert calls[(p, i, chosen)] == 1
            for j, candidate in enumerate(op.candidates):
                for w, old in zip(candidate.parameters(), before[p][i][j], strict=True):
                    # the others were never in the graph: no gradient, not stepped
                    assert (w.grad is None) == (j != chosen)
                    assert torch.equal(w.detach(), old) == (j != chosen)
                    trained += j == chosen
    assert trained > 0


def test_paths_are_drawn_from_p():
    space = SPACES["proxyless"]()
    method = make(space, spread=1.5)
    probs = method.distribution()[0].numpy()
    draws = np.array([method.sample_paths()[0] for _ in range(1000)])
    freq = np.bincount(draws, minlength=len(probs)) / len(draws)
    assert np.abs(freq - probs).max() < 4 * np.sqrt(probs.max() / len(draws))


# -- binary gates ---------------------------------------------------------------------------
def dense_reference(method, gated, x, y):
    """The gates as ordinary multipliers, every gated candidate in the graph, and α reached
    through g = one-hot + p − p.detach() (value binary, gradient ∂p/∂α): (CE, ∂L/∂g, ∂L/∂α)."""
    supernet = method.supernet
    for ops in supernet.mixed:
        for op in ops:
            op.gate_hook = None
    leaves, gates = [], []
    for a, paths, active in zip(supernet.alphas, gated.paths, gated.active, strict=True):
        h = torch.zeros(len(paths), dtype=a.dtype)
        h[paths.index(active)] = 1.0
        h.requires_grad_()
        p = torch.softmax(a[torch.tensor(paths)], 0)
        leaves.append(h)
        gates.append(h + p - p.detach())
    supernet.set_paths(gated.paths, gates)
    ce = F.cross_entropy(supernet(x), y)
    found = torch.autograd.grad(ce, [*leaves, *supernet.alphas])
    for ops in supernet.mixed:
        for op in ops:
            op.gate_hook = binary_gate
    return ce, found[:len(leaves)], found[len(leaves):]


@pytest.mark.parametrize("mode", ["two", "full"])
@pytest.mark.parametrize("name", SPACES)
def test_gate_and_alpha_gradients_equal_the_dense_reference(mode, name):
    space = SPACES[name]()
    # in double precision, so the two ways of summing agree to rounding
    method = make(space, mode=mode, dtype=torch.float64)
    x, y = batch(space, dtype=torch.float64)
    gated = method.sample_gates()
    sizes = {len(p) for p in gated.paths}
    assert sizes == ({2} if mode == "two" else {len(p.options) for p in space.positions()})
    got = method.gradients(x, y, gated)
    ce, gate_ref, alpha_ref = dense_reference(method, gated, x, y)
    assert float(got.ce) == pytest.approx(float(ce.detach()), rel=1e-12)
    for g, r in zip(got.gate_grads, gate_ref, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-12)
    for g, r in zip(got.alpha_grads, alpha_ref, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-12)
    assert max(float(g.abs().max()) for g in got.alpha_grads) > 1e-4
    # the explicit formula Σ_j ∂L/∂g_j p_j (δ_ij − p_i), outside the gated set zero
    for a, paths, gg, ga in zip(method.supernet.alphas, gated.paths, got.gate_grads,
                                got.alpha_grads, strict=True):
        p = torch.softmax(a.detach()[paths], 0)
        jac = torch.diag(p) - torch.outer(p, p)  # ∂p_j/∂α_i, symmetric
        torch.testing.assert_close(ga[paths], jac @ gg, rtol=1e-9, atol=1e-12)
        outside = [i for i in range(len(a)) if i not in paths]
        assert torch.all(ga[outside] == 0)


def test_full_mode_gates_every_candidate_and_passes_the_active_input_gradient():
    space = SPACES["proxyless"]()
    method = make(space, mode="full", dtype=torch.float64)
    p = next(k for k, pos in enumerate(space.positions()) if "zero" in pos.options)
    op = method.supernet.mixed[p][0]
    k = len(op.candidates)
    active = 2
    sig = space.positions()[p].ops[space.positions()[p].options[active]][0]
    x = torch.randn(4, sig.cin, sig.h, sig.w, dtype=torch.float64, requires_grad=True)
    gates = torch.zeros(k, dtype=torch.float64)
    gates[active] = 1.0
    gates.requires_grad_()
    op.mode, op.paths, op.gates = "paths", list(range(k)), gates
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(1) or t, lambda t: t):
        out = op(x)
    grad_out = torch.randn_like(out)
    out.backward(grad_out)
    # the reference: the active candidate alone, and every candidate's <grad_out, o_j(x)>
    x_ref = x.detach().clone().requires_grad_()
    alone = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: alone.append(1) or t, lambda t: t):
        out_ref = op.candidates[active](x_ref)
    out_ref.backward(grad_out)
    torch.testing.assert_close(out, out_ref.detach())
    torch.testing.assert_close(x.grad, x_ref.grad)
    with torch.no_grad():
        expected = torch.stack([(c(x) * grad_out).sum() for c in op.candidates])
    assert gates.grad.shape == (k,)
    torch.testing.assert_close(gates.grad, expected, rtol=1e-9, atol=1e-12)
    assert len(set(gates.grad.tolist())) == k  # every candidate's own value
    # only the active path's activations are kept (plus the gate function's input and output)
    assert len(saved) == len(alone) + 2


# -- two-path rescale -----------------------------------------------------------------------
def test_two_path_steps_move_only_the_pair_and_keep_the_others_probabilities():
    space = SPACES["proxyless"]()
    cost = ExpectedCost(space, synthetic_table(space))
    lr = 0.05
    method = make(space, mode="two", cost=cost, target=15.0, lam=0.5,
                  latency_loss="add_linear", arch_lr=lr)
    x, y = batch(space)
    changed = 0
    for step in range(2):  # the second step would move the first pair too, had Adam momentum
        before = [a.detach().clone() for a in method.supernet.alphas]
        method.arch_step(x, y)
        gated = method.last["gated"]
        for a, old, pair in zip(method.supernet.alphas, before, gated.paths, strict=True):
            new = a.detach()
            p_old, p_new = torch.softmax(old, 0), torch.softmax(new, 0)
            outside = [i for i in range(len(new)) if i not in pair]
            assert torch.equal(new[outside], old[outside])
            torch.testing.assert_close(p_new[outside], p_old[outside], rtol=0, atol=1e-6)
            assert float(p_new[pair].sum()) == pytest.approx(float(p_old[pair].sum()), abs=1e-6)
            # Adam without a first moment moves each logit by lr on its first step; the
            # pair's gradients sum to zero, so their gap moves by 2·lr, rescaled or not
            gap = (new[pair[0]] - new[pair[1]]) - (old[pair[0]] - old[pair[1]])
            if step == 0 and float(gap.abs()) > 1e-3:
                assert float(gap.abs()) == pytest.approx(2 * lr, rel=1e-3)
                changed += 1
    assert changed >= len(gated.paths) // 2


def test_two_path_draws_a_pair_from_p_and_opens_one_by_the_pairs_softmax():
    space = SPACES["nb201"]()
    method = make(space, mode="two", spread=1.0)
    p = torch.softmax(method.supernet.alphas[0].detach().double(), 0)
    k = len(p)
    # exact law of (pair, open gate): ordered draws without replacement, then the 2-way softmax
    in_pair, opened = torch.zeros(k, dtype=torch.float64), torch.zeros(k, dtype=torch.float64)
    for i in range(k):
        for j in range(k):
            if i != j:
                pair = p[i] * p[j] / (1 - p[i])
                in_pair[[i, j]] += pair
                opened[i] += pair * p[i] / (p[i] + p[j])
                opened[j] += pair * p[j] / (p[i] + p[j])
    n = 1500
    seen_pair, seen_open = np.zeros(k), np.zeros(k)
    for _ in range(n):
        gated = method.sample_gates()
        seen_pair[gated.paths[0]] += 1
        seen_open[gated.active[0]] += 1
        assert gated.active[0] in gated.paths[0] and len(set(gated.paths[0])) == 2
    assert np.abs(seen_pair / n - in_pair.numpy()).max() < 4 * np.sqrt(0.25 / n)
    assert np.abs(seen_open / n - opened.numpy()).max() < 4 * np.sqrt(0.25 / n)
    # opening by p itself rather than by the pair's softmax would be a different law
    assert np.abs(opened.numpy() - p.numpy()).max() > 4 * np.sqrt(0.25 / n)


# -- the latency term -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def priced():
    space = SPACES["proxyless"]()
    cost = ExpectedCost(space, synthetic_table(space))
    uniform = float(cost([torch.full((len(p.options),), 1 / len(p.options))
                          for p in space.positions()]))
    return space, cost, 0.8 * uniform


@pytest.mark.parametrize("mode", ["two", "full"])
def test_loss_is_the_papers_formula_on_the_gated_expectation(priced, mode):
    space, cost, target = priced
    assert target > math.e  # so both logarithms are those of the formula, no unit change
    x, y = batch(space)
    for kind, lam in (("mul_log", 0.3), ("add_linear", 0.2)):
        method = make(space, mode=mode, cost=cost, target=target, lam=lam, latency_loss=kind)
        gated = method.sample_gates()
        got = method.gradients(x, y, gated)
        # E under the gated set's own softmax: the table's constant plus each option's share
        expected = cost.constant
        for a, paths, share in zip(method.supernet.alphas, gated.paths, cost.option_costs,
                                   strict=True):
            q = torch.softmax(a.detach()[paths].double(), 0)
            expected += float((q * share[paths]).sum())
        assert float(got.cost) == pytest.approx(expected, rel=1e-5)
        ce, e = float(got.ce), expected
        formula = (ce * 0.2 * (math.log(e) / math.log(target)) ** lam if kind == "mul_log"
                   else ce + lam * (e - target) / target)
        assert float(got.loss) == pytest.approx(formula, rel=1e-5)


def test_add_linear_adds_lambda_over_t_times_the_expected_latency_gradient(priced):
    space, cost, target = priced
    method = make(space, mode="full", cost=cost, target=target, lam=0.0,
                  latency_loss="add_linear")
    x, y = batch(space)
    gated = method.sample_gates()
    plain = method.gradients(x, y, gated)
    method.lam = 0.7
    penalised = method.gradients(x, y, gated)
    alphas = method.supernet.arch_parameters()
    d_cost = torch.autograd.grad(cost(method.gated_probs(gated)), alphas)
    for g0, g1 in zip(plain.gate_grads, penalised.gate_grads, strict=True):
        torch.testing.assert_close(g0, g1)  # the additive term leaves CE's gradients alone
    inner = 0.0
    for a0, a1, dc in zip(plain.alpha_grads, penalised.alpha_grads, d_cost, strict=True):
        torch.testing.assert_close(a1 - a0, 0.7 / target * dc, rtol=1e-4, atol=1e-7)
        inner += float(((a1 - a0) * dc).sum())
    assert inner > 0  # a descent step on the latency part lowers E[lat]


@pytest.mark.parametrize("kind, strong", [("add_linear", 5.0), ("mul_log", 3.0)])
def test_a_larger_latency_weight_lowers_expected_latency_faster(priced, kind, strong):
    space, cost, target = priced
    x, y = batch(space)
    final = {}
    for lam in (0.0, strong):
        method = make(space, mode="full", cost=cost, target=target, lam=lam,
                      latency_loss=kind, arch_lr=0.05, spread=0.0)
        start = float(cost(method.distribution()))
        for _ in range(4):
            method.arch_step(x, y)
        final[lam] = float(cost(method.distribution()))
    assert final[strong] < start
    assert final[strong] < final[0.0]


# -- REINFORCE ------------------------------------------------------------------------------
def test_reinforce_rewards_and_moving_average_baseline(priced):
    space, cost, target = priced
    method = make(space, mode="reinforce", cost=cost, target=target, n_samples=3)
    x, y = batch(space, n=16)
    baselines = []
    for _ in range(3):
        out = method.arch_step(x, y)
        rewards = method.last["rewards"]
        for indices, r in zip(method.last["samples"], rewards, strict=True):
            arch = method.supernet.arch_of(indices)
            method.supernet.set_arch(arch)
            with torch.no_grad():
                acc = float((method.supernet(x).argmax(1) == y).float().mean())
            assert r == pytest.approx(acc * (cost.of_arch(arch) / target) ** -0.07)
        mean = sum(rewards) / len(rewards)
        assert out["reward"] == pytest.approx(mean)
        expected = mean if not baselines else 0.99 * baselines[-1] + 0.01 * mean
        assert method.baseline == pytest.approx(expected)
        baselines.append(method.baseline)
    assert method.log() == {"baseline": baselines[-1]}


class FavoursFirstOption(ProxylessNAS):
    """A constructed reward: 1 when position 0 takes option 0, else 0."""

    def reward(self, x, y, indices):
        return 1.0 if indices[0] == 0 else 0.0


def test_reinforce_moves_alpha_towards_the_rewarded_architecture():
    space = SPACES["proxyless"]()
    method = make(space, mode="reinforce", cls=FavoursFirstOption, arch_lr=0.05, spread=0.0,
                  n_samples=4)
    x, y = batch(space, n=2)
    start = float(method.distribution()[0][0])
    for _ in range(40):
        method.arch_step(x, y)
    probs = method.distribution()[0]
    assert float(probs[0]) > start + 0.2
    assert int(torch.argmax(probs)) == 0


def test_reinforce_without_a_table_rewards_accuracy_alone():
    space = SPACES["nb201"]()
    method = make(space, mode="reinforce", n_samples=2)
    x, y = batch(space, n=16)
    method.arch_step(x, y)
    for indices, r in zip(method.last["samples"], method.last["rewards"], strict=True):
        method.supernet.set_paths([[j] for j in indices])
        with torch.no_grad():
            acc = float((method.supernet(x).argmax(1) == y).float().mean())
        assert r == pytest.approx(acc)


# -- through the trainer --------------------------------------------------------------------
def test_trainer_run_derives_an_architecture_and_repeats():
    from hwnas.data import load_dataset, stratified_split
    from hwnas.oneshot.trainer import OneShotConfig, train_supernet

    space = ProxylessSpace(resolution=16, width_mult=0.25, num_classes=10)
    cost = ExpectedCost(space, synthetic_table(space))
    data = load_dataset("digits", 16)
    idx, _ = stratified_split(data.train_y.numpy(), 200)
    x, y = data.train_x[idx], data.train_y[idx]
    config = OneShotConfig(epochs=2, warmup_epochs=1, batch_size=16, lr=0.05,
                           weight_decay=5e-4, arch_split=0.2, threads=1)

    def run():
        return train_supernet(space, ProxylessNAS, options(arch_lr=0.01), config, x, y,
                              seed=3, cost=cost, target=15.0, lam=0.3)

    first, second = run(), run()
    space.check(first.derived.arch)
    assert [e["phase"] for e in first.trajectory] == ["warmup", "search"]
    assert first.trajectory[0]["arch_loss"] is None
    assert first.trajectory[1]["arch_loss"] is not None
    uniform = [[round(1 / len(p), 6)] * len(p) for p in first.trajectory[0]["probs"]]
    assert first.trajectory[0]["probs"] == uniform  # warm-up leaves α alone
    assert first.trajectory[1]["probs"] != uniform
    assert first.trajectory == second.trajectory
    assert first.derived.arch == second.derived.arch


class _NanLossAt(ProxylessNAS):
    """Reports a NaN loss at the 25th weight step (epoch 3 step 5 below: 10 steps an epoch)."""

    steps = 0

    def weight_step(self, x, y):
        out = super().weight_step(x, y)
        type(self).steps += 1
        return {**out, "loss": float("nan")} if type(self).steps == 25 else out


class _NanAlphaAt(ProxylessNAS):
    """Makes the architecture parameters NaN at its third architecture step (epoch 3)."""

    steps = 0

    def arch_step(self, x, y):
        out = super().arch_step(x, y)
        type(self).steps += 1
        if type(self).steps == 3:
            with torch.no_grad():
                for p in self.supernet.arch_parameters():
                    p.fill_(float("nan"))
        return out


@pytest.mark.parametrize("cls, reason", [(_NanLossAt, "loss became nan at epoch 3 step 5"),
                                         (_NanAlphaAt, "architecture parameters became")])
def test_a_diverged_supernet_training_stops_and_derives_from_the_last_good_epoch(cls, reason):
    from hwnas.data import load_dataset, stratified_split
    from hwnas.oneshot.trainer import OneShotConfig, train_supernet

    cls.steps = 0
    space = ProxylessSpace(resolution=16, width_mult=0.25, num_classes=10)
    cost = ExpectedCost(space, synthetic_table(space))
    data = load_dataset("digits", 16)
    idx, _ = stratified_split(data.train_y.numpy(), 200)
    config = OneShotConfig(epochs=3, warmup_epochs=1, batch_size=16, lr=0.05,
                           weight_decay=5e-4, arch_split=0.2, threads=1)
    events = []
    result = train_supernet(space, cls, options(arch_lr=0.01), config, data.train_x[idx],
                            data.train_y[idx], seed=3, cost=cost, target=15.0, lam=0.3,
                            progress=events.append)
    assert result.diverged is not None and reason in result.diverged
    assert result.trajectory[-1] == {"epoch": 2, "epochs": 3, "diverged": result.diverged}
    assert len(result.trajectory) == 3  # warm-up, one good search epoch, the diverged one
    space.check(result.derived.arch)
    good = result.trajectory[1]  # α restored to the end of the last good epoch
    uniform = [[round(1 / len(p), 6)] * len(p) for p in good["probs"]]
    assert good["probs"] != uniform and all(math.isfinite(v) for p in good["probs"] for v in p)
    assert dict(result.derived.argmax.values) == good["argmax"]
    assert any(e.get("event") == "notice" and "diverged" in e["summary"] for e in events)
