"""DARTS's mechanism: softmax-weighted mixed ops, first- and second-order α gradients (the
second checked against a numeric derivative of the unrolled objective), Adam on α, weights
untouched by an architecture step."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hwnas.nn import train as nt
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.supernet import Supernet
from hwnas.spaces.nb201 import Nb201Space
from hwnas.strategies import darts as darts_module
from hwnas.strategies.darts import Darts
from tests.unit.test_oneshot_supernet import synthetic_table

OPTIONS = {"arch_lr": 3e-4, "arch_weight_decay": 1e-3, "latency_loss": "add_linear",
           "order": 1}


def tiny(order: int, lam: float = 0.0, seed: int = 0):
    space = Nb201Space(C=2, N=1, resolution=4, num_classes=3)
    torch.manual_seed(seed)
    supernet = Supernet(space).double()
    with torch.no_grad():  # a non-uniform distribution, so every term of the gradient shows
        for a in supernet.alphas:
            a.copy_(torch.randn(a.shape, dtype=torch.float64))
    optimizer = nt.sgd(supernet.weight_parameters(), nt.TrainConfig(1, 4, 0.1, 3e-4))
    cost = ExpectedCost(space, synthetic_table(space)) if lam else None
    target = float(cost(supernet.probs()).detach()) if cost else None
    method = Darts(supernet, optimizer, cost, target, lam, {**OPTIONS, "order": order},
                   torch.Generator().manual_seed(seed))
    gen = torch.Generator().manual_seed(seed + 1)
    batch = lambda n: (torch.randn(n, 3, 4, 4, generator=gen, dtype=torch.float64),  # noqa: E731
                       torch.randint(0, 3, (n,), generator=gen))
    return supernet, method, batch


def test_weight_step_mixes_every_candidate_by_softmax_and_leaves_alpha():
    supernet, method, batch = tiny(order=1)
    x, y = batch(6)
    before = [a.detach().clone() for a in supernet.alphas]
    calls = []
    hooks = [c.register_forward_hook(lambda *_: calls.append(1))
             for ops in supernet.mixed for op in ops for c in op.candidates]
    method.weight_step(x, y)
    for h in hooks:
        h.remove()
    assert len(calls) == sum(len(op.candidates) for ops in supernet.mixed for op in ops)
    op = supernet.mixed[0][0]
    assert op.mode == "weights"
    assert torch.allclose(op.weights, torch.softmax(supernet.alphas[0], 0))
    assert all(torch.equal(a, b) for a, b in zip(before, supernet.alphas, strict=True))


def test_first_order_arch_step_is_adam_on_the_validation_gradient():
    supernet, method, batch = tiny(order=1)
    vx, vy = batch(6)
    method.weight_step(*batch(6))
    weights = [w.detach().clone() for w in supernet.weight_parameters()]
    loss = method.val_loss(vx, vy)
    grads = torch.autograd.grad(loss, supernet.arch_parameters())
    reference = [a.detach().clone() for a in supernet.alphas]
    adam = torch.optim.Adam([torch.nn.Parameter(r) for r in reference], lr=3e-4,
                            betas=(0.5, 0.999), weight_decay=1e-3)
    for p, g in zip(adam.param_groups[0]["params"], grads, strict=True):
        p.grad = g
    adam.step()
    method.arch_step(vx, vy)
    for a, r in zip(supernet.alphas, adam.param_groups[0]["params"], strict=True):
        assert torch.allclose(a, r, atol=1e-12)
    assert all(torch.equal(w, v) for w, v in zip(weights, supernet.weight_parameters(),
                                                 strict=True))


def unrolled_objective(supernet, method, tx, ty, vx, vy) -> torch.Tensor:
    """L_val(w − ξ(m·v + ∇_w L_train + wd·w), α), computed without approximation."""
    weights = supernet.weight_parameters()
    group = method.weight_optimizer.param_groups[0]
    xi, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
    saved = [w.detach().clone() for w in weights]
    supernet.set_weights([p.detach() for p in supernet.probs()])
    grads = torch.autograd.grad(F.cross_entropy(supernet(tx), ty), weights)
    with torch.no_grad():
        for w, g in zip(weights, grads, strict=True):
            buf = method.weight_optimizer.state[w]["momentum_buffer"]
            w.sub_(xi * (momentum * buf + g + wd * w))
        loss = method.val_loss(vx, vy)
        for w, s in zip(weights, saved, strict=True):
            w.copy_(s)
    return loss


def test_second_order_gradient_matches_a_numeric_derivative_and_differs_from_first(
        monkeypatch):
    """With a fine Hessian-vector step the formula is the exact derivative of the unrolled
    objective; the paper's step (0.01 / ‖v‖) is an approximation of it, checked loosely."""
    # The momentum buffers come from an unclipped step: the loose check of the paper's step
    # holds at this state (after a clipped one it is worse than the first order here).
    monkeypatch.setattr(darts_module, "WEIGHT_GRAD_CLIP", None)
    supernet, method, batch = tiny(order=2, lam=0.5)
    method.hessian_eps = 1e-6
    tx, ty = batch(6)
    method.weight_step(tx, ty)  # fills the momentum buffers the unrolled step reads
    vx, vy = batch(6)
    alphas = supernet.arch_parameters()
    saved_w = [w.detach().clone() for w in supernet.weight_parameters()]
    # the method's second-order gradient (Adam not stepped: read the gradient it sets)
    method._unrolled_grads(vx, vy, tx, ty)
    second = [a.grad.detach().clone() for a in alphas]
    assert all(torch.equal(w, s) for w, s in zip(supernet.weight_parameters(), saved_w,
                                                 strict=True))  # weights restored exactly
    first = torch.autograd.grad(method.val_loss(vx, vy), alphas)
    eps = 1e-5
    numeric = []
    for a in alphas:
        g = torch.zeros_like(a)
        for i in range(a.numel()):
            with torch.no_grad():
                a.view(-1)[i] += eps
            up = float(unrolled_objective(supernet, method, tx, ty, vx, vy))
            with torch.no_grad():
                a.view(-1)[i] -= 2 * eps
            down = float(unrolled_objective(supernet, method, tx, ty, vx, vy))
            with torch.no_grad():
                a.view(-1)[i] += eps
            g.view(-1)[i] = (up - down) / (2 * eps)
        numeric.append(g)
    flat = lambda gs: torch.cat([g.reshape(-1) for g in gs])  # noqa: E731
    err_second = (flat(second) - flat(numeric)).norm() / flat(numeric).norm()
    err_first = (flat(first) - flat(numeric)).norm() / flat(numeric).norm()
    assert err_second < 1e-4, err_second
    assert err_first > 0.5  # the unrolled term matters on this problem
    method.hessian_eps = Darts.hessian_eps
    method._unrolled_grads(vx, vy, tx, ty)
    paper = flat([a.grad for a in alphas])
    assert (paper - flat(numeric)).norm() / flat(numeric).norm() < err_first


@pytest.mark.parametrize("lam", [0.5, 2.0])
def test_latency_penalty_pulls_expected_latency_down(lam):
    """The same validation batch, with and without the penalty: the penalty's α gradient
    lowers E[lat] (its directional derivative along −grad is negative)."""
    supernet, method, batch = tiny(order=1, lam=lam)
    vx, vy = batch(6)
    probs = supernet.probs()
    cost = method.cost(probs)
    g_cost = torch.autograd.grad(cost, supernet.arch_parameters())
    g_with = torch.autograd.grad(method.val_loss(vx, vy), supernet.arch_parameters())
    method.lam = 0.0
    g_without = torch.autograd.grad(method.val_loss(vx, vy), supernet.arch_parameters())
    penalty = [a - b for a, b in zip(g_with, g_without, strict=True)]
    # add_linear: λ (E − T)/T, so its gradient is λ/T ∇E exactly
    for p, c in zip(penalty, g_cost, strict=True):
        assert torch.allclose(p, lam / method.target * c, atol=1e-10)


@pytest.mark.parametrize("method", ["darts", "proxyless", "fbnet", "snas"])
def test_a_larger_latency_weight_derives_a_faster_network_on_digits(method, tiny_table_path):
    """The embedded default, this machine's table of a tiny proxyless space: λ = 0 against a
    strong λ, same seed and data; α's learning rate raised so two search epochs move it."""
    from hwnas.data import load_dataset
    from hwnas.latency.table import LatencyTable
    from hwnas.oneshot.trainer import OneShotConfig, train_supernet
    from hwnas.registry import STRATEGIES
    from hwnas.spaces.proxyless import ProxylessSpace

    space = ProxylessSpace(resolution=16, width_mult=0.25, num_classes=10)
    cost = ExpectedCost(space, LatencyTable.load(tiny_table_path))
    data = load_dataset("digits", 8)
    x, y = data.train_x[:256], data.train_y[:256]
    strong = {"darts": 20.0, "proxyless": 20.0, "fbnet": 20.0, "snas": 20.0}[method]
    cls = STRATEGIES.get(method)
    config = OneShotConfig(epochs=3, warmup_epochs=1, batch_size=32, lr=0.05,
                           weight_decay=5e-4, arch_split=0.25, threads=1)
    low, high = cost.range()
    derived = {}
    for lam in (0.0, strong):
        options = cls.resolve_options({"arch_lr": 0.05, "lambda": lam,
                                       **({"latency_loss": "add_linear"}
                                          if "latency_loss" in cls.option_specs else {})})
        result = train_supernet(space, cls.method_class(), options, config, x, y, seed=0,
                                cost=cost, target=(low + high) / 2, lam=lam)
        derived[lam] = result.derived.cost
    assert derived[strong] < derived[0.0]
