"""Single-Path NAS (hwnas/strategies/single_path_nas.py, hwnas/oneshot/superkernel.py): the
thresholds pick kernel, expansion and skip by the paper's norm rule; the superkernel is the
entangled storage (a step through the 3x3 moves the 7x7's centre); the runtime term is the
table's cost of the decided network, differentiable in the thresholds with the expected signs;
a larger λ derives a network no slower; the strategy refuses what it cannot search."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from hwnas.errors import BadInputError
from hwnas.latency.table import LatencyTable
from hwnas.objectives import parse_objectives
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.superkernel import Indicators, Relaxed, TFRMSProp, indicator, layout_of
from hwnas.oneshot.supernet import Supernet
from hwnas.registry import STRATEGIES
from hwnas.spaces.fbnet import FBNetSpace
from hwnas.spaces.nb201 import Nb201Space
from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.strategies.single_path_nas import RUNTIME_SCALE, SinglePathNAS, SinglePathNASStrategy

BIG = 1e4  # a threshold no norm reaches (its indicator off), or minus it (on)


def space(num_classes: int = 5) -> ProxylessSpace:
    return ProxylessSpace(resolution=16, width_mult=0.25, num_classes=num_classes)


def monotone_table(space) -> LatencyTable:
    """Every block dearer with a larger kernel and expansion (the sign tests need it)."""
    entries = {}
    for sig in space.all_ops():
        ms = 0.3 if sig.op != "mbconv" else 0.02 + 1e-3 * sig.kernel ** 2 * sig.expand
        entries[sig.key] = {"p50": ms, "p90": 1.1 * ms, "mean": ms, "std": 0.01}
    return LatencyTable(backend="ort-cpu", device={"cpu": "test"}, entries=entries)


def make(sp=None, table=None, lam: float = 0.02, lr: float = 0.1, **options) -> SinglePathNAS:
    sp = sp or space()
    torch.manual_seed(0)
    supernet = Supernet(sp, weights="entangled")
    resolved = SinglePathNASStrategy.resolve_options({"lambda": lam, **options})
    cost = None if table is None else ExpectedCost(sp, table)
    optimizer = torch.optim.SGD(supernet.weight_parameters(), lr=lr)
    method = SinglePathNAS(supernet, optimizer, cost, None, lam, resolved,
                           torch.Generator().manual_seed(0))
    method.warmup_epochs = 0
    return method


def norms(layer, kernel: int) -> tuple[float, float, float, float]:
    """Independently of the module: ‖ring 5\\3‖, ‖ring 7\\5‖ over every channel, and the norms
    of the two channel groups of the kernel cut to `kernel` (the rings outside it zero)."""
    w = layer.store.depthwise.detach().double()
    sq = lambda k: float(w[:, :, 3 - k // 2:4 + k // 2, 3 - k // 2:4 + k // 2].square().sum())  # noqa: E731
    h3, h6 = layer.hidden
    c = 3 - kernel // 2
    cut = w[:, :, c:7 - c, c:7 - c]
    return (math.sqrt(sq(5) - sq(3)), math.sqrt(sq(7) - sq(5)),
            float(cut[:h3].norm()), float(cut[h3:h6].norm()))


def set_thresholds(layer, k5: bool, k7: bool, e6: bool, keep: bool | None,
                   gap: float = 0.05) -> str:
    """Thresholds `gap` below (on) or above (off) the norms; returns the option the paper's
    rule gives: kernel 3 unless the 5-ring is on (then 7 if its ring is on too), expansion
    3 unless the second group is on, `zero` when the first group is off."""
    kernel = 3 if not k5 else (7 if k7 else 5)
    n5, n7, g3, g6 = norms(layer, kernel)
    side = lambda on: -gap if on else gap  # noqa: E731
    values = [n5 + side(k5), n7 + side(k7), g6 + side(e6)]
    if keep is not None:
        values.append(g3 + side(keep))
    with torch.no_grad():
        layer.thresholds.copy_(torch.tensor(values))
    if keep is False:
        return "zero"
    return f"mb_k{kernel}_e{6 if e6 else 3}"


def skippable(method) -> int:
    return next(p for p, layer in enumerate(method.layers) if layer.layout.zero is not None)


# -- the paper's norm rule -------------------------------------------------------------------
@pytest.mark.parametrize("k5, k7, e6, keep", list(itertools.product([True, False], repeat=4)))
def test_the_thresholds_pick_kernel_expansion_and_skip_by_the_norm_rule(k5, k7, e6, keep):
    method = make()
    p = skippable(method)
    layer = method.layers[p]
    assert layer.layout.names == ("k5", "k7", "e6", "e3")
    wanted = set_thresholds(layer, k5, k7, e6, keep)
    position = method.supernet.positions[p]
    assert position.options[layer.decision()] == wanted
    # the trainer's view: the distribution's argmax is the same option
    probs = method.distribution()[p]
    assert position.options[int(torch.argmax(probs))] == wanted
    assert float(probs.sum()) == pytest.approx(1.0)


def test_a_layer_that_cannot_be_skipped_has_no_skip_threshold():
    method = make()
    p = next(p for p, layer in enumerate(method.layers) if layer.layout.zero is None)
    first = method.layers[p]
    assert "zero" not in method.supernet.positions[p].options
    assert first.layout.names == ("k5", "k7", "e6")
    # every threshold far above its norm: the smallest block, never `zero`
    with torch.no_grad():
        first.thresholds.fill_(BIG)
    assert method.supernet.positions[p].options[first.decision()] == "mb_k3_e3"


def test_the_distributions_argmax_is_the_hard_rule_for_any_thresholds():
    method = make()
    rng = np.random.default_rng(0)
    for _ in range(20):
        for layer in method.layers:
            with torch.no_grad():
                layer.thresholds.copy_(torch.tensor(rng.uniform(0, 4, len(layer.thresholds)),
                                                    dtype=torch.float32))
        probs = method.distribution()
        assert [int(torch.argmax(p)) for p in probs] == method.decisions()


def test_the_indicator_is_hard_forward_and_sigmoid_backward():
    x = torch.tensor([-2.0, -0.1, 0.0, 0.3], requires_grad=True)
    d = indicator(x)
    assert d.tolist() == [0.0, 0.0, 1.0, 1.0]
    d.sum().backward()
    s = torch.sigmoid(x.detach())
    assert torch.allclose(x.grad, s * (1 - s))


# -- the superkernel is the entangled storage ----------------------------------------------
def test_a_step_through_the_3x3_decision_moves_the_7x7_centre_only():
    method = make(lam=0.0)
    for layer in method.layers:  # every layer decided k3, e3, kept
        with torch.no_grad():
            layer.thresholds.fill_(BIG)
            if layer.layout.zero is not None:
                layer.thresholds[-1] = -BIG
    assert {method.supernet.positions[p].options[j]
            for p, j in enumerate(method.decisions())} == {"mb_k3_e3"}
    p = 0
    layer = method.layers[p]
    store = layer.store
    before = store.depthwise.detach().clone()
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    y = torch.arange(8) % 5
    method.weight_step(x, y)
    after = store.depthwise.detach()
    h3 = layer.hidden[0]
    centre = (slice(0, h3), slice(None), slice(2, 5), slice(2, 5))
    assert not torch.equal(after[centre], before[centre])  # the 3x3 trained ...
    ring = torch.ones(7, 7, dtype=torch.bool)
    ring[2:5, 2:5] = False
    assert torch.equal(after[:, :, ring], before[:, :, ring])  # ... its rings did not
    assert torch.equal(after[h3:], before[h3:])  # nor the channels of expansion 6
    # one storage: the 7x7 expansion-6 block's centre is the 3x3 block's kernel
    position = method.supernet.positions[p]
    op = method.supernet.mixed[p][0]
    big = op.candidates[position.options.index("mb_k7_e6")].standalone_state_dict()
    small = op.candidates[position.options.index("mb_k3_e3")].standalone_state_dict()
    key = next(k for k, v in small.items() if v.dim() == 4 and v.shape[-1] == 3)
    assert torch.equal(big[key][centre], small[key])
    assert torch.equal(small[key], after[centre])


def test_with_hard_indicators_the_supernet_computes_the_decided_network():
    """The masks act where the decided network has no weights: the supernet's output is the
    child's (`Supernet.child`, after the superkernel's BatchNorm is shared)."""
    method = make()
    rng = np.random.default_rng(3)
    for layer in method.layers:
        keep = None if layer.layout.zero is None else bool(rng.integers(2))
        set_thresholds(layer, *(bool(b) for b in rng.integers(2, size=3)), keep)
        with torch.no_grad():  # BatchNorm that is not the identity, so sharing it matters
            for m in layer.largest.module.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
    supernet = method.supernet.eval()
    arch = supernet.arch_of(method.decisions())
    assert len(set(arch.values.values())) > 2 and "zero" in arch.values.values()
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = supernet(x)
        method.before_child()  # shares the BatchNorm, as the trainer does before a child
        child = supernet.child(arch).eval()
        assert torch.allclose(child(x), out, atol=1e-5)


# -- the runtime term ------------------------------------------------------------------------
def mixed_decisions(method, seed=5):
    rng = np.random.default_rng(seed)
    wanted = []
    for layer in method.layers:
        keep = None if layer.layout.zero is None else bool(rng.integers(4) > 0)
        wanted.append(set_thresholds(layer, *(bool(b) for b in rng.integers(2, size=3)), keep))
    return wanted


def test_with_hard_indicators_the_runtime_is_the_tables_cost_of_the_decided_network():
    sp = space()
    table = monotone_table(sp)
    method = make(sp, table)
    wanted = mixed_decisions(method)
    arch = method.supernet.arch_of(method.decisions())
    assert list(arch.values.values()) == wanted
    relaxed = [layer.relax() for layer in method.layers]
    runtime = method.runtime(relaxed)
    assert float(runtime.detach()) == pytest.approx(method.cost.of_arch(arch), rel=1e-12)
    assert float(runtime.detach()) == pytest.approx(table.predict_ops(sp.ops(arch)), rel=1e-9)


def test_the_runtime_falls_as_a_threshold_rises_over_an_active_ring():
    sp = space()
    method = make(sp, monotone_table(sp))
    layer = method.layers[skippable(method)]
    set_thresholds(layer, k5=True, k7=False, e6=True, keep=True)  # k5, e6, kept
    relaxed = [other.relax() for other in method.layers]
    runtime = method.runtime(relaxed)
    (grad,) = torch.autograd.grad(runtime, [layer.thresholds])
    k5, k7, e6, e3 = grad.tolist()
    assert k5 < 0  # raising t_k5 turns the 5-ring off: faster
    assert k7 < 0  # raising t_k7 keeps the 7-ring off: its gradient still says faster
    assert e6 < 0 and e3 < 0  # fewer channels, or the layer skipped: faster
    # the loss's term is λ·1e3·log R: the same direction, scaled by λ·1e3 / R
    (term_grad,) = torch.autograd.grad(method.runtime_term([o.relax() for o in method.layers]),
                                       [layer.thresholds])
    scale = method.lam * RUNTIME_SCALE / float(runtime.detach())
    assert torch.allclose(term_grad, scale * grad.float(), rtol=1e-4)


def test_with_soft_indicators_the_runtime_is_the_expectation_over_independent_indicators():
    """The nesting is multilinear: with indicator values in (0, 1) it is E[cost] under each
    indicator on independently with that probability (ExpectedCost of that distribution)."""
    sp = space()
    method = make(sp, monotone_table(sp))
    rng = np.random.default_rng(7)
    relaxed, probs = [], []
    for layer, position in zip(method.layers, sp.positions(), strict=True):
        s5, s7, s6, s3 = (torch.tensor(v, dtype=torch.float64) for v in rng.uniform(0, 1, 4))
        keep = s3 if layer.layout.zero is not None else None
        # the runtime reads only the indicators (and the device of the kernel)
        relaxed.append(Relaxed(Indicators([s5, s7], [s6], keep), torch.zeros(1), None))
        kernel = {3: 1 - s5, 5: s5 * (1 - s7), 7: s5 * s7}
        expansion = {3: 1 - s6, 6: s6}
        q = torch.zeros(len(position.options), dtype=torch.float64)
        for j, option in enumerate(position.options):
            if option == "zero":
                q[j] = 1 - s3
            else:
                k, e = int(option[4]), int(option[7])
                q[j] = (1.0 if keep is None else s3) * kernel[k] * expansion[e]
        probs.append(q)
    assert float(method.runtime(relaxed)) == pytest.approx(float(method.cost(probs)), rel=1e-10)


# -- training --------------------------------------------------------------------------------
def test_warmup_drops_indicators_and_leaves_out_the_runtime_term():
    sp = space()
    method = make(sp, monotone_table(sp), lam=1.0)
    method.warmup_epochs = 1
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    y = torch.arange(8) % 5
    seen = set()
    for _ in range(4):
        out = method.weight_step(x, y)
        assert out["loss"] == pytest.approx(out["ce"])  # CE alone while warming up
        for layer in method.layers:
            seen |= {round(float(d.detach()), 4) for d in layer.last.indicators.kernel}
    assert seen == {0.0, round(1 / 0.6, 4)}  # kept ones scaled by 1/keep, as a dropout
    method.start_epoch(1, 2)
    out = method.weight_step(x, y)
    assert out["loss"] > out["ce"]  # λ·1e3·log R with R > 1 ms here
    assert {float(d.detach()) for layer in method.layers
            for d in layer.last.indicators.kernel} <= {0.0, 1.0}


def test_the_thresholds_step_as_tensorflows_rmsprop():
    t = torch.nn.Parameter(torch.tensor([0.5]))
    opt = TFRMSProp([t], lr=0.1)
    ms, mom, value = 1.0, 0.0, 0.5
    for g in (0.3, -0.2, 0.7):
        opt.zero_grad()
        t.grad = torch.tensor([g])
        opt.step()
        ms = 0.9 * ms + 0.1 * g * g
        mom = 0.9 * mom + 0.1 * g / math.sqrt(ms + 1e-3)
        value -= mom
        assert float(t.detach()) == pytest.approx(value, rel=1e-6)


def test_a_larger_lambda_derives_a_network_no_slower():
    """λ = 0 against a strong λ, same seed and data (digits at 8x8), the fast preset's
    threshold rate: the strong setting's derived network is faster by the table."""
    from hwnas.data import load_dataset
    from hwnas.oneshot.trainer import OneShotConfig, train_supernet

    sp = ProxylessSpace(resolution=16, width_mult=0.25, num_classes=10)
    table = monotone_table(sp)
    cost = ExpectedCost(sp, table)
    data = load_dataset("digits", 8)
    x, y = data.train_x[:256], data.train_y[:256]
    config = OneShotConfig(epochs=3, warmup_epochs=1, batch_size=32, lr=0.05,
                           weight_decay=5e-4, arch_split=0.25, threads=1, weights="entangled")
    derived = {}
    for lam in (0.0, 1.0):
        options = SinglePathNASStrategy.resolve_options({"arch_lr": 0.1, "lambda": lam})
        result = train_supernet(sp, SinglePathNAS, options, config, x, y, seed=0, cost=cost,
                                target=None, lam=lam)
        derived[lam] = result.derived.cost
        assert result.trajectory[-1]["thresholds"] and result.alpha_moved > 0
    assert derived[1.0] < derived[0.0]


# -- the strategy ----------------------------------------------------------------------------
OBJECTIVES = parse_objectives("accuracy,latency_ms")


@pytest.mark.parametrize("given, needle", [
    ({"supernet_weights": "separate"}, "'supernet_weights' option of strategy "
                                       "'single_path_nas' must be 'entangled'"),
    ({"kernel_transform": True}, "'kernel_transform' option of strategy 'single_path_nas' "
                                 "must be False"),
    ({"indicator_keep": 0.0}, "'indicator_keep' option"),
])
def test_what_the_superkernel_cannot_be_is_refused_in_one_line(given, needle):
    with pytest.raises(BadInputError) as info:
        STRATEGIES.get("single_path_nas")(space(), OBJECTIVES, seed=0, **given)
    assert needle in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("sp", [Nb201Space(), FBNetSpace()], ids=["nb201", "fbnet"])
def test_a_space_without_a_kernel_by_expansion_grid_is_refused(sp):
    with pytest.raises(BadInputError, match="every kernel x expansion") as info:
        STRATEGIES.get("single_path_nas")(sp, OBJECTIVES, seed=0)
    assert "\n" not in str(info.value)


def test_every_proxyless_layer_has_a_layout():
    for position in space().positions():
        layout = layout_of(position)
        assert layout.kernels == (3, 5, 7) and layout.expansions == (3, 6)
        assert (layout.zero is not None) == ("zero" in position.options)


def test_the_fast_preset_shrinks_the_training_and_raises_the_threshold_rate():
    cls = STRATEGIES.get("single_path_nas")
    fast = cls.presets["fast"]
    resolved = cls.resolve_options(fast)
    assert resolved["epochs"] < cls.option_specs["epochs"].default
    assert resolved["resolution"] == 16 and resolved["train_subset"] == 768
    assert resolved["arch_lr"] > cls.option_specs["arch_lr"].default
