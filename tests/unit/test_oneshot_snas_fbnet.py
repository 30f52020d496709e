"""SNAS's and FBNet's mechanisms: Gumbel (concrete) samples from the method's generator, their
temperature schedules, SNAS's joint update and its two estimators of the resource gradient
(checked against direct computations and the concrete log-density written out by hand),
FBNet's CE·α·log(LAT)^β loss, and a short end-to-end search of each on digits."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from hwnas.nn import train as nt
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.gumbel import concrete_log_density, concrete_sample
from hwnas.oneshot.losses import unit_scale
from hwnas.oneshot.supernet import Supernet
from hwnas.spaces.nb201 import Nb201Space
from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.strategies.fbnet_dnas import FBNet, FBNetStrategy
from hwnas.strategies.snas import Snas, SnasStrategy
from tests.unit.test_oneshot_supernet import synthetic_table

SPACES = {
    "proxyless": lambda: ProxylessSpace(resolution=16, width_mult=0.25, num_classes=5),
    "nb201": lambda: Nb201Space(C=2, N=1, resolution=4, num_classes=3),
}


def defaults(strategy, **changes) -> dict:
    return {**{k: o.default for k, o in strategy.option_specs.items()}, **changes}


@functools.cache
def table_cost(name: str) -> ExpectedCost:
    """One synthetic table's cost per space (NB201's enumeration takes seconds)."""
    space = SPACES[name]()
    return ExpectedCost(space, synthetic_table(space))


def make(method_cls, name, lam=0.0, seed=0, random_alpha=True, **changes):
    """A method on the supernet of space `name` (double precision, α random unless told), with a
    synthetic table when λ > 0 and T = E[cost] of the uniform distribution."""
    strategy = SnasStrategy if method_cls is Snas else FBNetStrategy
    torch.manual_seed(seed)
    supernet = Supernet(SPACES[name]()).double()
    if random_alpha:
        with torch.no_grad():
            for a in supernet.alphas:
                a.copy_(torch.randn(a.shape, dtype=torch.float64))
    optimizer = nt.sgd(supernet.weight_parameters(), nt.TrainConfig(1, 4, 0.1, 3e-4))
    cost = table_cost(name) if lam else None
    target = None
    if cost is not None:
        uniform = [torch.full((len(p.options),), 1 / len(p.options), dtype=torch.float64)
                   for p in cost.positions]
        target = float(cost(uniform))
    options = defaults(strategy, **{"warmup_epochs": 0, **changes})
    method = method_cls(supernet, optimizer, cost, target, lam, options,
                        torch.Generator().manual_seed(seed))
    method.warmup_epochs = options["warmup_epochs"]  # as the trainer sets it
    return method


def tiny_batch(n=6, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 3, 4, 4, generator=gen, dtype=torch.float64),
            torch.randint(0, 3, (n,), generator=gen))


def gumbel_by_hand(shape, gen):
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    return -torch.log(-torch.log(u))


# -- samples and temperatures ---------------------------------------------------------------------
def test_concrete_samples_harden_as_the_temperature_falls_and_follow_softmax():
    logits = torch.tensor([0.5, -0.3, 1.2, 0.0, -1.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    hard = torch.stack([concrete_sample(logits, 0.01, gen)[0] for _ in range(2000)])
    soft = torch.stack([concrete_sample(logits, 1.0, gen)[0] for _ in range(2000)])
    assert torch.allclose(hard.sum(1), torch.ones(2000, dtype=torch.float64))
    assert float(hard.max(1).values.mean()) > 0.97
    assert float(hard.max(1).values.median()) > 0.999
    assert float(soft.max(1).values.mean()) < 0.75  # spread over the options at τ = 1
    # Gumbel-max: the sample's argmax is distributed as softmax(logits)
    freq = torch.bincount(hard.argmax(1), minlength=5).double() / 2000
    assert torch.allclose(freq, torch.softmax(logits, 0), atol=0.04)


def test_snas_temperature_falls_linearly_from_tau0_to_tau_end():
    method = make(Snas, "nb201")
    taus = []
    for epoch in range(5):
        method.start_epoch(epoch, 5)
        taus.append(method.log()["tau"])
    assert taus[0] == pytest.approx(1.0) and taus[-1] == pytest.approx(0.03)
    steps = np.diff(taus)
    assert np.allclose(steps, (0.03 - 1.0) / 4)
    other = make(Snas, "nb201", tau0=2.0, tau_end=0.5)
    other.start_epoch(2, 3)
    assert other.tau == pytest.approx(0.5)
    other.start_epoch(1, 3)
    assert other.tau == pytest.approx(1.25)


def test_fbnet_temperature_is_five_times_exp_minus_0045_per_epoch():
    method = make(FBNet, "nb201")
    assert method.tau == 5.0
    for epoch in range(12):
        method.start_epoch(epoch, 90)
        assert method.log()["tau"] == pytest.approx(5.0 * math.exp(-0.045 * epoch), rel=1e-12)
    method.start_epoch(1, 90)
    assert method.tau == pytest.approx(5.0 * 0.956, rel=1e-3)  # the paper's ≈ 0.956 per epoch


# -- SNAS's update and resource gradients ---------------------------------------------------------
def test_snas_weight_step_updates_weights_and_alpha_from_one_backward():
    method = make(Snas, "nb201", lam=0.5)
    supernet = method.supernet
    method.start_epoch(1, 3)
    weights = [w.detach().clone() for w in supernet.weight_parameters()]
    alphas = [a.detach().clone() for a in supernet.alphas]
    forwards, grads = [], []
    hook = supernet.net.register_forward_hook(lambda *_: forwards.append(1))
    handles = [a.register_hook(lambda g: grads.append(1)) for a in supernet.alphas]
    out = method.weight_step(*tiny_batch())
    hook.remove()
    for h in handles:
        h.remove()
    assert len(forwards) == 1 and len(grads) == len(supernet.alphas)  # one pass, α once each
    assert all(not torch.equal(a, b) for a, b in zip(alphas, supernet.alphas, strict=True))
    assert any(not torch.equal(w, v) for w, v in zip(weights, supernet.weight_parameters(),
                                                     strict=True))
    op = supernet.mixed[0][0]
    assert op.mode == "weights" and not torch.allclose(op.weights, supernet.probs()[0])
    # arch_step is a no-op reporting the joint objective: the CE plus λ/T · C(Z) at the
    # sample the mixed ops ran with
    zs = [ops[0].weights.detach() for ops in supernet.mixed]
    penalty = 0.5 / method.target * float(method.cost(zs))
    before = [a.detach().clone() for a in supernet.alphas]
    assert method.arch_step(*tiny_batch(seed=2))["loss"] == pytest.approx(out["loss"] + penalty,
                                                                         rel=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(before, supernet.alphas, strict=True))


def test_snas_warmup_steps_weights_only():
    method = make(Snas, "nb201", lam=0.5, warmup_epochs=1)
    method.start_epoch(0, 3)
    alphas = [a.detach().clone() for a in method.supernet.alphas]
    method.weight_step(*tiny_batch())
    assert all(torch.equal(a, b) for a, b in zip(alphas, method.supernet.alphas, strict=True))


@pytest.mark.parametrize("name", SPACES)
def test_pathwise_penalty_gradient_is_autograd_of_the_cost_at_the_sample(name):
    method = make(Snas, name, lam=0.7, seed=3, resource_grad="pathwise")
    method.tau = 0.4
    zs, logs = method.sample()
    value, term = method.resource_term(zs, logs)
    alphas = method.supernet.arch_parameters()
    got = torch.autograd.grad(term, alphas)
    # the same noise drawn by hand from a generator seeded alike
    gen = torch.Generator().manual_seed(3)
    by_hand = [torch.softmax((a + gumbel_by_hand(a.shape, gen)) / 0.4, 0) for a in alphas]
    direct = 0.7 / method.target * method.cost(by_hand)
    want = torch.autograd.grad(direct, alphas)
    assert float(value.detach()) == pytest.approx(float(direct.detach()), rel=1e-12)
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g, w, rtol=1e-9, atol=1e-12)
    assert any(float(g.abs().max()) > 0 for g in got)


@pytest.mark.parametrize("name", SPACES)
def test_reinforce_gradient_is_cost_times_the_concrete_score(name):
    """Σ_l C_l ∇ log p(Z_l), with ∂/∂a_j log p(z) = 1 − n · softmax(a − τ log z)_j from the
    concrete density; C_l the position's share (additive space) or the whole cost (NB201)."""
    method = make(Snas, name, lam=0.3, seed=4, resource_grad="reinforce")
    tau = method.tau = 0.6
    zs, logs = method.sample()
    value, term = method.resource_term(zs, logs)
    alphas = method.supernet.arch_parameters()
    got = torch.autograd.grad(term, alphas)
    cost = method.cost
    whole = float(cost([z.detach() for z in zs]))
    assert float(value) == pytest.approx(0.3 / method.target * whole, rel=1e-12)
    for p, (a, z, g) in enumerate(zip(alphas, zs, got, strict=True)):
        z = z.detach()
        share = float(z @ cost.option_costs[p]) if name == "proxyless" else whole
        score = 1 - len(z) * torch.softmax(a.detach() - tau * torch.log(z), 0)
        assert torch.allclose(g, 0.3 / method.target * share * score, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_both_estimators_estimate_the_same_gradient(tau):
    """For a linear cost C(z) = z·c, the pathwise gradient (1/τ) z ⊙ (c − z·c) and the
    policy gradient C(z) ∇ log p(z) have the same mean over concrete samples."""
    logits = torch.tensor([0.3, -0.5, 1.0], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64)
    n = 20_000
    z, log_z = concrete_sample(logits.expand(n, 3), tau, torch.Generator().manual_seed(0))
    z, log_z = z.detach(), log_z.detach()
    cost = z @ c
    pathwise = z * (c - cost[:, None]) / tau
    log_p = concrete_log_density(logits.expand(n, 3), log_z, tau)
    reinforce = cost[:, None] * (1 - 3 * torch.softmax(logits.detach() - tau * log_z, -1))
    autograd = torch.autograd.grad((cost * log_p).sum(), logits)[0]
    assert torch.allclose(autograd, reinforce.sum(0), rtol=1e-9)
    diff = reinforce - pathwise
    error = diff.std(0) / n ** 0.5
    assert torch.all(diff.mean(0).abs() < 4 * error), (diff.mean(0), error)
    assert torch.all(pathwise.mean(0).abs() > 10 * error)  # a gradient worth comparing


def test_concrete_log_density_is_the_written_out_density():
    logits = torch.tensor([0.3, -0.8, 1.1], dtype=torch.float64)
    z = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    tau, n = 0.7, 3
    pi = torch.exp(logits)
    density = (math.factorial(n - 1) * tau ** (n - 1) * torch.prod(pi * z ** (-tau - 1))
               / torch.sum(pi * z ** (-tau)) ** n)
    assert float(concrete_log_density(logits, torch.log(z), tau)) == pytest.approx(
        math.log(float(density)), rel=1e-12)
    # two categories: the density of z_1 on (0, 1) integrates to 1
    t = torch.linspace(1e-6, 1 - 1e-6, 200_001, dtype=torch.float64)
    two = torch.stack([t, 1 - t], 1)
    pdf = torch.exp(concrete_log_density(torch.tensor([0.4, -0.2], dtype=torch.float64),
                                         torch.log(two), 1.5))
    assert float(torch.trapezoid(pdf, t)) == pytest.approx(1.0, abs=1e-4)


# -- FBNet's loss ---------------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [0.0, 0.3, 0.6])
def test_fbnet_loss_is_ce_times_alpha_log_latency_to_the_beta(beta):
    method = make(FBNet, "proxyless", lam=1.0)
    method.lam = beta
    floor = method.cost.range()[0]
    assert method.floor == floor
    scale = unit_scale(floor)
    assert floor * scale > math.e
    ce, lat = torch.tensor(1.7, dtype=torch.float64), torch.tensor(floor * 1.9, dtype=torch.float64)
    got = float(method.arch_loss(ce, lat))
    want = 1.7 if beta == 0 else 1.7 * 0.2 * math.log(floor * 1.9 * scale) ** beta
    assert got == pytest.approx(want, rel=1e-12)


def test_fbnet_latency_gradient_moves_theta_toward_cheaper_options():
    method = make(FBNet, "proxyless", lam=0.6, random_alpha=False)
    method.start_epoch(0, 10)
    cost = method.cost
    start = float(cost(method.distribution()))
    for _ in range(30):  # pure latency: CE fixed at 1
        loss = method.arch_loss(torch.tensor(1.0, dtype=torch.float64),
                                method.expected_cost(method.masks()))
        method.arch_optimizer.zero_grad()
        loss.backward()
        method.arch_optimizer.step()
    probs = method.distribution()
    cheapest = [int(torch.argmin(c)) for c in cost.option_costs]
    gained = [float(p[j]) > 1 / len(p) for p, j in zip(probs, cheapest, strict=True)]
    assert all(gained), gained
    assert float(cost(probs)) < start


def test_fbnet_weight_step_leaves_theta_and_arch_step_leaves_weights():
    method = make(FBNet, "nb201", lam=0.6)
    supernet = method.supernet
    alphas = [a.detach().clone() for a in supernet.alphas]
    method.weight_step(*tiny_batch())
    assert all(torch.equal(a, b) for a, b in zip(alphas, supernet.alphas, strict=True))
    weights = [w.detach().clone() for w in supernet.weight_parameters()]
    method.arch_step(*tiny_batch(seed=2))
    assert all(torch.equal(w, v) for w, v in zip(weights, supernet.weight_parameters(),
                                                 strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(alphas, supernet.alphas, strict=True))


# -- the method's generator -----------------------------------------------------------------------
@pytest.mark.parametrize("method_cls", [Snas, FBNet])
def test_samples_come_from_the_methods_generator(method_cls):
    draw = (lambda m: m.sample()[0]) if method_cls is Snas else (lambda m: m.masks())
    one, two = make(method_cls, "nb201", seed=5), make(method_cls, "nb201", seed=5)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = draw(one)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is not used
    assert all(torch.equal(a, b) for a, b in zip(first, draw(two), strict=True))
    second = draw(one)  # the generator advances: a fresh draw, not a fixed noise
    assert not any(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    three = make(method_cls, "nb201", seed=5)
    three.generator.manual_seed(6)
    assert not any(torch.equal(a, b) for a, b in zip(first, draw(three), strict=True))


# -- end to end -----------------------------------------------------------------------------------
TAUS = {Snas: [1.0, 0.03], FBNet: [5.0, 5.0 * math.exp(-0.045)]}


def search(method_cls, space, cost, x, y, batch_size, seed=0):
    from hwnas.oneshot.trainer import OneShotConfig, train_supernet

    strategy = SnasStrategy if method_cls is Snas else FBNetStrategy
    config = OneShotConfig(epochs=2, warmup_epochs=1, batch_size=batch_size, lr=0.05,
                           weight_decay=5e-4, arch_split=0.2)
    return train_supernet(space, method_cls, defaults(strategy, warmup_epochs=1), config, x, y,
                          seed=seed, cost=cost, target=cost.range()[1], lam=0.5)


@pytest.mark.parametrize("method_cls", [Snas, FBNet])
def test_end_to_end_search_on_digits(method_cls):
    from hwnas.data import load_dataset

    data = load_dataset("digits", 8)
    space = ProxylessSpace(resolution=16, width_mult=0.25, num_classes=10)
    cost = ExpectedCost(space, synthetic_table(space))
    result = search(method_cls, space, cost, data.train_x[:200], data.train_y[:200], 64)
    space.check(result.derived.arch)
    trajectory = result.trajectory
    assert [e["tau"] for e in trajectory] == pytest.approx(TAUS[method_cls])
    assert [e["phase"] for e in trajectory] == ["warmup", "search"]
    assert trajectory[0]["arch_loss"] is None and trajectory[1]["arch_loss"] > 0
    assert all(math.isfinite(e["train_loss"]) for e in trajectory)
    assert any(max(p) > min(p) for p in trajectory[1]["probs"])  # α moved in the search epoch
    assert result.derived.argmax.values == trajectory[1]["argmax"]  # derived from the last α


@pytest.mark.parametrize("method_cls", [Snas, FBNet])
def test_a_search_repeats_under_one_seed(method_cls):
    """The whole loop on the small cell space: same seed, same trajectory and architecture;
    another seed, other draws."""
    space = SPACES["nb201"]()
    gen = torch.Generator().manual_seed(9)
    x, y = torch.randn(40, 3, 4, 4, generator=gen), torch.randint(0, 3, (40,), generator=gen)
    runs = [search(method_cls, space, table_cost("nb201"), x, y, 8, seed=s) for s in (0, 0, 1)]
    same, again, other = ([e["probs"] for e in r.trajectory] for r in runs)
    assert same == again and same != other
    assert runs[0].derived.arch == runs[1].derived.arch
    assert [e["train_loss"] for e in runs[0].trajectory] == \
        [e["train_loss"] for e in runs[1].trajectory]
