"""Details of the one-shot methods checked against the authors' code (issue 33, part 5):
ProxylessNAS leaves α alone where the open gate is the zero layer, DARTS steps α before the
weights on the iteration's training batch, DARTS and SNAS clip gradient norms as their code
does, and DARTS's Hessian-vector product is normalised by ‖v‖."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.supernet import Supernet
from hwnas.oneshot.trainer import OneShotConfig, train_supernet
from hwnas.spaces.nb201 import Nb201Space
from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.strategies.darts import WEIGHT_GRAD_CLIP, Darts, DartsStrategy
from hwnas.strategies.fbnet_dnas import FBNet, FBNetStrategy
from hwnas.strategies.proxyless_nas import Gated
from hwnas.strategies.snas import ARCH_GRAD_CLIP, Snas, SnasStrategy
from tests.unit.test_oneshot_proxylessnas import batch, make
from tests.unit.test_oneshot_supernet import synthetic_table


def defaults(cls, **changes) -> dict:
    return {**{k: o.default for k, o in cls.option_specs.items()}, **changes}


# -- (a) ProxylessNAS: no α update at a position whose open option is `zero` ----------------
@pytest.mark.parametrize("mode", ["two", "full"])
def test_proxyless_keeps_alpha_where_the_open_gate_is_zero(mode):
    space = ProxylessSpace(resolution=16, width_mult=0.25, num_classes=5)
    cost = ExpectedCost(space, synthetic_table(space))
    method = make(space, mode=mode, cost=cost, target=15.0, lam=0.5,
                  latency_loss="add_linear", arch_lr=0.05)
    positions = method.supernet.positions
    with_zero = [p for p, pos in enumerate(positions) if "zero" in pos.options]
    opened, closed = with_zero[0], with_zero[1]  # zero open at one, gated but closed at one
    paths, active = [], []
    for p, pos in enumerate(positions):
        zero = pos.options.index("zero") if "zero" in pos.options else None
        pair = [zero, 0] if p in (opened, closed) else [0, 1]
        paths.append(pair if mode == "two" else list(range(len(pos.options))))
        active.append(zero if p == opened else 0)
    method.sample_gates = lambda: Gated(paths, active)
    alphas = method.supernet.arch_parameters()
    before = [a.detach().clone() for a in alphas]
    method.arch_step(*batch(space))
    assert method.last["skipped"] == [p == opened for p in range(len(positions))]
    # the zero-open position: α, and Adam's state for it, untouched (latency term included)
    assert torch.equal(alphas[opened], before[opened])
    assert not method.arch_optimizer.state.get(alphas[opened])
    # every other position stepped, the closed-zero one included
    for p, (a, b) in enumerate(zip(alphas, before, strict=True)):
        if p != opened:
            assert not torch.equal(a, b), p


# -- (b) DARTS: α before the weights, on the iteration's training batch ---------------------
@pytest.mark.parametrize("cls, strategy, first", [(Darts, DartsStrategy, "arch"),
                                                  (FBNet, FBNetStrategy, "weight")])
def test_the_trainer_runs_darts_arch_step_first_and_others_after(monkeypatch, cls, strategy,
                                                                  first):
    events = []
    weight_step, arch_step = cls.weight_step, cls.arch_step

    def on_weight(self, x, y):
        assert self.train_batch[0] is x  # the trainer hands the iteration's batch to both
        events.append(("weight", x.clone()))
        return weight_step(self, x, y)

    def on_arch(self, x, y):
        events.append(("arch", self.train_batch[0].clone()))
        return arch_step(self, x, y)

    monkeypatch.setattr(cls, "weight_step", on_weight)
    monkeypatch.setattr(cls, "arch_step", on_arch)
    space = Nb201Space(C=2, N=1, resolution=8, num_classes=3)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 3, 8, 8, generator=gen), torch.randint(3, (40,), generator=gen)
    options = defaults(strategy, order=2) if cls is Darts else defaults(strategy)
    config = OneShotConfig(epochs=2, warmup_epochs=1, batch_size=8, lr=0.05,
                           weight_decay=5e-4, arch_split=0.2, threads=1)
    train_supernet(space, cls, options, config, x, y, seed=0, cost=None, target=None, lam=0.0)
    warmup = 4  # 32 weight images in batches of 8: the warm-up epoch's weight steps only
    assert [k for k, _ in events[:warmup]] == ["weight"] * warmup
    searching = events[warmup:]
    assert len(searching) == 2 * warmup
    pairs = [searching[i:i + 2] for i in range(0, len(searching), 2)]
    assert pairs and all([k for k, _ in pair] == [first, "weight" if first == "arch" else
                                                   "arch"] for pair in pairs)
    # the arch step saw the batch the weights step on in the same iteration
    assert all(torch.equal(pair[0][1], pair[1][1]) for pair in pairs)


def test_darts_unrolls_on_the_batch_the_weights_have_not_stepped_on_yet(monkeypatch):
    """The second order's w' = w − ξ∇L_train(w) starts from the weights before the
    iteration's weight step (DARTS's Architect.step runs first)."""
    seen = []
    unrolled = Darts._unrolled_grads

    def spy(self, vx, vy, tx, ty):
        seen.append(([w.detach().clone() for w in self.supernet.weight_parameters()], tx))
        return unrolled(self, vx, vy, tx, ty)

    monkeypatch.setattr(Darts, "_unrolled_grads", spy)
    space = Nb201Space(C=2, N=1, resolution=8, num_classes=3)
    torch.manual_seed(0)
    supernet = Supernet(space)
    optimizer = torch.optim.SGD(supernet.weight_parameters(), lr=0.05, momentum=0.9)
    method = Darts(supernet, optimizer, None, None, 0.0, defaults(DartsStrategy, order=2),
                   torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    tx, ty = torch.randn(8, 3, 8, 8, generator=gen), torch.randint(3, (8,), generator=gen)
    vx, vy = torch.randn(8, 3, 8, 8, generator=gen), torch.randint(3, (8,), generator=gen)
    method.train_batch = (tx, ty)
    start = [w.detach().clone() for w in supernet.weight_parameters()]
    method.arch_step(vx, vy)
    weights, batch_x = seen[0]
    assert batch_x is tx
    assert all(torch.equal(a, b) for a, b in zip(weights, start, strict=True))


# -- (c) gradient clipping as the authors' code -------------------------------------------
def norms_at_step(optimizer) -> list[float]:
    """Record the gradient norm of the optimizer's parameters each time it steps."""
    seen = []
    step = optimizer.step

    def recording(*args, **kwargs):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]
                 if p.grad is not None]
        seen.append(float(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(g) for g in grads]))))
        return step(*args, **kwargs)

    optimizer.step = recording
    return seen


def loud(space, cls, strategy, lam, seed=0):
    """A method whose gradients are far above the clipping norms: a classifier scaled up
    (large weight gradients) and a large cost penalty (large α gradients)."""
    torch.manual_seed(seed)
    supernet = Supernet(space).double()
    with torch.no_grad():
        for a in supernet.alphas:
            a.normal_(0, 1)
        for name, p in supernet.named_parameters():
            if name.startswith("net.") and p.dim() == 2:  # the linear classifier
                p.mul_(300)
    optimizer = torch.optim.SGD(supernet.weight_parameters(), lr=0.01, momentum=0.9)
    cost = ExpectedCost(space, synthetic_table(space)) if lam else None
    target = float(cost(supernet.probs()).detach()) / 100 if cost else None
    method = cls(supernet, optimizer, cost, target, lam, defaults(strategy),
                 torch.Generator().manual_seed(seed))
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(8, 3, 8, 8, generator=gen, dtype=torch.float64)
    return method, x, torch.randint(3, (8,), generator=gen)


@pytest.mark.parametrize("clip", [True, False], ids=["clipped", "unclipped"])
def test_snas_clips_weight_gradients_at_5_and_alpha_gradients_at_10(monkeypatch, clip):
    import hwnas.strategies.snas as snas

    if not clip:  # the same step without clipping: the raw norms are above the limits
        monkeypatch.setattr(snas, "WEIGHT_GRAD_CLIP", float("inf"))
        monkeypatch.setattr(snas, "ARCH_GRAD_CLIP", float("inf"))
    space = Nb201Space(C=2, N=1, resolution=8, num_classes=3)
    method, x, y = loud(space, Snas, SnasStrategy, lam=1e4)
    weights, arch = norms_at_step(method.weight_optimizer), norms_at_step(method.arch_optimizer)
    method.warmup_epochs = 0
    method.start_epoch(0, 2)
    method.weight_step(x, y)  # the joint step
    method.warmup_epochs = 5
    method.weight_step(x, y)  # a warm-up step: weights only
    if clip:
        assert weights == pytest.approx([5.0, 5.0], rel=1e-6)
        assert arch == pytest.approx([ARCH_GRAD_CLIP], rel=1e-6)
    else:
        assert min(weights) > 5.0 and arch[0] > ARCH_GRAD_CLIP


def test_darts_clips_the_weight_gradient_at_5():
    space = Nb201Space(C=2, N=1, resolution=8, num_classes=3)
    method, x, y = loud(space, Darts, DartsStrategy, lam=0.0)
    weights = norms_at_step(method.weight_optimizer)
    method.weight_step(x, y)
    assert weights == pytest.approx([WEIGHT_GRAD_CLIP], rel=1e-6)


# -- (d) DARTS's finite-difference Hessian-vector product -----------------------------------
class Smooth(torch.nn.Module):
    """The smallest supernet `Darts` can step: two tanh candidates mixed by softmax(α), so the
    exact Hessian-vector product is smooth and finite differences of norm 0.01 are accurate."""

    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)
        self.head = torch.nn.Linear(4, 2)
        self.alphas = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(2))])
        self.mix: torch.Tensor | None = None

    def weight_parameters(self):
        return [*self.a.parameters(), *self.b.parameters(), *self.head.parameters()]

    def arch_parameters(self):
        return list(self.alphas)

    def probs(self):
        return [torch.softmax(a, -1) for a in self.alphas]

    def set_weights(self, weights):
        self.mix = weights[0]

    def forward(self, x):
        hidden = self.mix[0] * torch.tanh(self.a(x)) + self.mix[1] * torch.tanh(self.b(x))
        return self.head(torch.tanh(hidden))


def exact_hessian_vector(net: Smooth, vector, x, y) -> list[torch.Tensor]:
    """∇_α (∇_w L_train · v) by double backward."""
    net.set_weights(net.probs())
    loss = F.cross_entropy(net(x), y)
    grads = torch.autograd.grad(loss, net.weight_parameters(), create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vector, strict=True))
    return list(torch.autograd.grad(dot, net.arch_parameters()))


def central_difference(net: Smooth, vector, x, y, eps: float) -> list[torch.Tensor]:
    """(∇_α L(w + εv) − ∇_α L(w − εv)) / 2ε with a given ε: what a missing ‖v‖ computes."""
    weights = net.weight_parameters()
    saved = [w.detach().clone() for w in weights]
    out = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            for w, s, v in zip(weights, saved, vector, strict=True):
                w.copy_(s + sign * eps * v)
        net.set_weights(net.probs())
        out.append(torch.autograd.grad(F.cross_entropy(net(x), y), net.arch_parameters()))
    with torch.no_grad():
        for w, s in zip(weights, saved, strict=True):
            w.copy_(s)
    return [(p - m) / (2 * eps) for p, m in zip(*out, strict=True)]


def relative_error(got, want) -> float:
    got, want = torch.cat([g.reshape(-1) for g in got]), torch.cat([w.reshape(-1) for w in want])
    return float((got - want).norm() / want.norm())


def test_hessian_vector_step_is_normalised_by_the_vectors_norm():
    """ε = 0.01/‖v‖ makes the perturbation 0.01 long whatever ‖v‖ is, so the product is
    accurate and linear in v at every scale; ε = 0.01 alone (a missing ‖v‖) perturbs the
    weights by 10 when ‖v‖ = 1000, where the finite difference is no derivative."""
    torch.manual_seed(0)
    net = Smooth().double()
    optimizer = torch.optim.SGD(net.weight_parameters(), lr=0.1, momentum=0.9)
    method = Darts(net, optimizer, None, None, 0.0, defaults(DartsStrategy, order=2),
                   torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(16, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(2, (16,), generator=gen)
    direction = [torch.randn(w.shape, generator=gen, dtype=torch.float64)
                 for w in net.weight_parameters()]
    unit = float(torch.sqrt(sum((v * v).sum() for v in direction)))
    exact = exact_hessian_vector(net, [v / unit for v in direction], x, y)
    for scale in (1e-3, 1.0, 1e3):
        vector = [scale * v / unit for v in direction]
        got = method._hessian_vector(vector, x, y)
        assert relative_error(got, [scale * e for e in exact]) < 1e-3, scale
    # the same check catches ε without ‖v‖ (this test's reason to exist)
    vector = [1e3 * v / unit for v in direction]
    missing = central_difference(net, vector, x, y, Darts.hessian_eps)
    assert relative_error(missing, [1e3 * e for e in exact]) > 1e-2
