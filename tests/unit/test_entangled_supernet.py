"""Entangled supernet weights (hwnas.oneshot.entangled): nested kernels and channels share one
storage, a candidate is the standalone op with sliced weights, separate mode is as before, the
option is declared and refused like every option, and every supernet user passes it on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.errors import BadInputError
from hwnas.nn import train as nt
from hwnas.oneshot import single_path as sp
from hwnas.oneshot.entangled import EntangledCandidate, SharedBlockWeights
from hwnas.oneshot.supernet import MixedOp, Supernet
from hwnas.oneshot.weight_options import DEFAULT_WEIGHTS, WEIGHT_MODES
from hwnas.registry import ESTIMATORS, STRATEGIES
from hwnas.spaces.fbnet import FBNetSpace
from hwnas.spaces.nb201 import Nb201Space
from hwnas.spaces.proxyless import ProxylessSpace

SUPERNET_USERS = ["proxyless", "fbnet", "darts", "snas", "spos", "enas"]


def proxyless():
    return ProxylessSpace(resolution=16, width_mult=0.25, num_classes=5)


def entangled(space, seed=0, kernel_transform=False) -> Supernet:
    torch.manual_seed(seed)
    return Supernet(space, weights="entangled", kernel_transform=kernel_transform)


def candidate(supernet: Supernet, p: int, option: str) -> EntangledCandidate:
    cand = supernet.mixed[p][0].candidates[supernet.positions[p].options.index(option)]
    assert isinstance(cand, EntangledCandidate)
    return cand


def inputs(supernet: Supernet, p: int, n: int = 4, seed: int = 0) -> torch.Tensor:
    sig = supernet.positions[p].ops["mb_k3_e3"][0]
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, sig.cin, sig.h, sig.w, generator=gen)


def test_the_family_shares_one_tensor_of_the_largest_kernel_and_expansion():
    supernet = entangled(proxyless())
    for p, position in enumerate(supernet.positions):
        op = supernet.mixed[p][0]
        [shared] = op.shared
        sig = position.ops["mb_k7_e6"][0]
        assert shared.depthwise.shape == (sig.cin * 6, 1, 7, 7)
        assert shared.expand.shape == (sig.cin * 6, sig.cin, 1, 1)
        assert shared.project.shape == (sig.cout, sig.cin * 6, 1, 1)
        for option, cand in zip(position.options, op.candidates, strict=True):
            if option == "zero":  # not nestable: the identity the space builds
                assert isinstance(cand, torch.nn.Identity)
            else:
                assert cand.shared is shared
                assert not list(cand.parameters(recurse=False))
    # every parameter once: the shared tensors are the MixedOp's, not each candidate's
    names = [n for n, _ in supernet.named_parameters()]
    assert not any(".candidates." in n and ".shared." in n for n in names)
    assert len({id(p) for p in supernet.parameters()}) == len(names)


def test_a_step_through_k3_e3_moves_the_centre_and_first_channels_only():
    supernet = entangled(proxyless())
    p = 0
    shared = supernet.mixed[p][0].shared[0]
    h3 = candidate(supernet, p, "mb_k3_e3").hidden
    big = candidate(supernet, p, "mb_k7_e6").standalone_state_dict()
    before = {k: v.clone() for k, v in big.items()}
    out = candidate(supernet, p, "mb_k3_e3")(inputs(supernet, p))
    out.square().mean().backward()
    inside = {"depthwise": (slice(0, h3), slice(None), slice(2, 5), slice(2, 5)),
              "expand": (slice(0, h3),), "project": (slice(None), slice(0, h3))}
    for name, where in inside.items():
        grad = getattr(shared, name).grad
        mask = torch.zeros_like(grad, dtype=torch.bool)
        mask[where] = True
        assert grad[mask].abs().sum() > 0, name
        assert torch.count_nonzero(grad[~mask]) == 0, name
    torch.optim.SGD(supernet.parameters(), lr=0.1).step()  # no momentum, no decay
    after = candidate(supernet, p, "mb_k7_e6").standalone_state_dict()
    dw = [k for k in after if k.endswith(".weight") and after[k].dim() == 4
          and after[k].shape[-1] == 7][0]
    moved = after[dw] != before[dw]
    assert moved[:h3, :, 2:5, 2:5].any() and not moved[h3:].any()
    assert not moved[:, :, :2].any() and not moved[:, :, 5:].any()
    assert not moved[:, :, :, :2].any() and not moved[:, :, :, 5:].any()


@pytest.mark.parametrize("kernel_transform", [False, True])
@pytest.mark.parametrize("make_space", [proxyless, lambda: FBNetSpace(num_classes=5)],
                         ids=["proxyless", "fbnet"])
def test_a_candidate_is_the_standalone_op_with_the_sliced_weights(make_space,
                                                                   kernel_transform):
    space = make_space()
    supernet = entangled(space, kernel_transform=kernel_transform)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # transforms away from the identity, so they must be applied
        for name, param in supernet.named_parameters():
            if ".transforms." in name:
                param.add_(0.1 * torch.randn(param.shape, generator=gen))
    p = 1
    position = supernet.positions[p]
    op = supernet.mixed[p][0]
    checked = 0
    for option, cand in zip(position.options, op.candidates, strict=True):
        if not isinstance(cand, EntangledCandidate):
            continue
        sig = position.ops[option][0]
        alone = space.build_op(sig)
        alone.load_state_dict(cand.standalone_state_dict())
        x = torch.randn(3, sig.cin, sig.h, sig.w, generator=gen)
        for mode in (True, False):  # BatchNorm on batch and on running statistics
            cand.train(mode)
            alone.train(mode)
            with torch.no_grad():
                torch.testing.assert_close(cand(x), alone(x), rtol=1e-5, atol=1e-5)
        checked += 1
    assert checked == (6 if space.name == "proxyless" else 8)


def test_without_kernel_transform_a_kernel_is_the_plain_centre_crop():
    supernet = entangled(proxyless())
    p = 0
    shared: SharedBlockWeights = supernet.mixed[p][0].shared[0]
    assert not list(shared.transforms.parameters())
    for option, offset in (("mb_k3_e3", 2), ("mb_k5_e6", 1), ("mb_k7_e3", 0)):
        cand = candidate(supernet, p, option)
        state = cand.standalone_state_dict()
        k, h = cand.kernel, cand.hidden
        expand, depthwise, project = (state[key] for key in cand._keys)
        assert torch.equal(depthwise, shared.depthwise[:h, :, offset:offset + k,
                                                       offset:offset + k])
        assert torch.equal(expand, shared.expand[:h])
        assert torch.equal(project, shared.project[:, :h])


def test_kernel_transform_maps_each_cut_and_starts_as_the_identity():
    supernet = entangled(proxyless(), kernel_transform=True)
    shared = supernet.mixed[0][0].shared[0]
    assert sorted(shared.transforms) == ["5to3", "7to5"]
    h = shared.depthwise.shape[0]
    w = shared.depthwise.detach()
    # identity matrices at first: the plain crop
    assert torch.equal(shared.depthwise_kernel(h, 3).detach(), w[:, :, 2:5, 2:5])
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in shared.transforms.values():
            m.copy_(torch.randn(m.shape, generator=gen))
    t75, t53 = shared.transforms["7to5"].detach(), shared.transforms["5to3"].detach()
    five = (w[:, :, 1:6, 1:6].reshape(h, 25) @ t75.T).reshape(h, 1, 5, 5)
    three = (five[:, :, 1:4, 1:4].reshape(h, 9) @ t53.T).reshape(h, 1, 3, 3)
    torch.testing.assert_close(shared.depthwise_kernel(h, 5).detach(), five)
    torch.testing.assert_close(shared.depthwise_kernel(h, 3).detach(), three)
    assert torch.equal(shared.depthwise_kernel(h, 7).detach(), w)


def test_mixed_candidates_add_their_gradients_on_the_shared_storage():
    """DARTS-style mixing runs every member on one storage: the gradient of a linear
    objective of Σ_j w_j o_j(x) is the sum of what each member alone gives."""
    supernet = entangled(proxyless())
    p = 0
    op: MixedOp = supernet.mixed[p][0]
    x = inputs(supernet, p)
    weights = torch.softmax(torch.randn(len(op.candidates),
                                        generator=torch.Generator().manual_seed(2)), 0)
    op.mode, op.weights = "weights", weights
    g = torch.randn(op(x).shape, generator=torch.Generator().manual_seed(3))
    supernet.zero_grad(set_to_none=True)
    (op(x) * g).sum().backward()
    together = op.shared[0].depthwise.grad.clone()
    alone = torch.zeros_like(together)
    for w, cand in zip(weights, op.candidates, strict=True):
        if not isinstance(cand, EntangledCandidate):
            continue
        supernet.zero_grad(set_to_none=True)
        (w * cand(x) * g).sum().backward()
        alone += op.shared[0].depthwise.grad
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-7)


def test_separate_mode_is_the_supernet_as_before():
    space = proxyless()
    torch.manual_seed(0)
    default = Supernet(space)
    torch.manual_seed(0)
    separate = Supernet(space, weights="separate")
    assert default.weights_mode == separate.weights_mode == "separate"
    for a, b in zip(default.state_dict().items(), separate.state_dict().items(), strict=True):
        assert a[0] == b[0] and torch.equal(a[1], b[1])
    for ops in separate.mixed:
        for op in ops:
            assert len(op.shared) == 0
            assert not any(isinstance(c, EntangledCandidate) for c in op.candidates)
    # every MBConv candidate owns its own depthwise weight
    kernels = [m for m in separate.modules() if isinstance(m, torch.nn.Conv2d)
               and m.groups > 1]
    assert len({id(m.weight) for m in kernels}) == len(kernels) == 6 * len(separate.positions)


@pytest.mark.parametrize("make_space", [proxyless, lambda: FBNetSpace(num_classes=5),
                                        lambda: Nb201Space(C=4, N=1, resolution=8,
                                                           num_classes=5)],
                         ids=["proxyless", "fbnet", "nb201"])
def test_a_path_of_an_entangled_supernet_is_the_derived_network(make_space):
    space = make_space()
    supernet = entangled(space, kernel_transform=True).eval()
    x = torch.randn(2, *space.input_shape)
    rng = np.random.default_rng(1)
    for _ in range(3):
        arch = space.sample(rng)
        supernet.set_arch(arch)
        child = supernet.child(arch).eval()  # space.build(arch), weights loaded strictly
        assert type(child) is type(space.build(arch))
        with torch.no_grad():
            torch.testing.assert_close(supernet(x), child(x), rtol=1e-5, atol=1e-5)


def test_fbnet_nests_the_plain_and_the_grouped_blocks_apart_and_nb201_nothing():
    fb = entangled(FBNetSpace(num_classes=5))
    op = fb.mixed[1][0]
    assert len(op.shared) == 2  # k3/k5 x e1/e3/e6, and the two 2-group blocks
    sizes = sorted(s.depthwise.shape[-1] for s in op.shared)
    assert sizes == [5, 5]
    skip = op.candidates[fb.positions[1].options.index("skip")]
    assert not isinstance(skip, EntangledCandidate)
    # nb201's conv ops are not inverted residuals: entangled is separate there
    nb = entangled(Nb201Space(C=4, N=1, resolution=8, num_classes=5))
    assert all(len(op.shared) == 0 for ops in nb.mixed for op in ops)


def test_the_shared_estimators_accuracy_reads_the_entangled_weights():
    space = proxyless()
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, *space.input_shape, generator=gen), torch.randint(5, (32,),
                                                                             generator=gen)
    with nt.torch_threads(1):
        supernet, stats = sp.train_uniform(space, x, y, nt.TrainConfig(1, 16, 0.05), seed=0,
                                           device=torch.device("cpu"), weights="entangled")
    assert supernet.weights_mode == "entangled" and not stats[-1].diverged
    arch = space.sample(np.random.default_rng(3))
    calib = sp.calibration_batches(x, 16, 2, seed=2)
    inherited = sp.inherited_accuracy(supernet, arch, calib, x, y)
    child = space.build(arch)
    child.load_state_dict(supernet.child_state_dict(arch))
    from hwnas.nn.batchnorm import recalibrate_batchnorm

    recalibrate_batchnorm(child, calib)
    assert inherited == nt.evaluate_accuracy(child, x, y)


def test_the_estimator_passes_the_option_on(monkeypatch):
    seen = {}

    def recording(space, x, y, config, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop: recorded")

    monkeypatch.setattr(sp, "train_uniform", recording)
    space = ProxylessSpace(resolution=16, width_mult=0.25, num_classes=10)  # digits' classes
    est = ESTIMATORS.get("shared")(space, "digits", seed=0, epochs=1, train_subset=64,
                                   supernet_weights="separate", kernel_transform=True)
    with pytest.raises(RuntimeError, match="stop: recorded"):
        est.estimate(space.default_arch())
    assert (seen["weights"], seen["kernel_transform"]) == ("separate", True)


@pytest.mark.parametrize("name", SUPERNET_USERS)
def test_every_supernet_user_declares_the_options(name):
    specs = STRATEGIES.get(name).option_specs
    assert specs["supernet_weights"].default == DEFAULT_WEIGHTS
    assert specs["supernet_weights"].choices == WEIGHT_MODES
    assert specs["kernel_transform"].default is False
    assert ESTIMATORS.get("shared").option_specs["supernet_weights"].default == DEFAULT_WEIGHTS
    if "weights" in specs:  # ENAS's and SPOS's reward weights keep their meaning
        assert specs["weights"].choices is None and specs["weights"].default is None


@pytest.mark.parametrize("owner", [("strategy", n) for n in SUPERNET_USERS]
                         + [("estimator", "shared")], ids=lambda o: o[1])
@pytest.mark.parametrize("given, wanted", [({"supernet_weights": "entagled"},
                                            "one of 'entangled'"),
                                           ({"kernel_transform": "yes"}, "a bool")])
def test_a_bad_value_is_refused_in_the_one_line_template(owner, given, wanted):
    kind, name = owner
    cls = (STRATEGIES if kind == "strategy" else ESTIMATORS).get(name)
    with pytest.raises(BadInputError) as info:
        cls.resolve_options(given)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"The {next(iter(given))!r} option of {kind} {name!r} must be "
                           f"{wanted}"), text


def test_a_supernet_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="weights must be one of"):
        Supernet(proxyless(), weights="shared")


def test_weights_alone_points_to_supernet_weights_where_it_is_no_option():
    """`weights` is the reward's option in ENAS and SPOS; elsewhere it names this one."""
    with pytest.raises(BadInputError, match="did you mean 'supernet_weights'"):
        STRATEGIES.get("darts").resolve_options({"weights": "separate"})


def test_a_run_written_before_the_option_resumes_with_separate_weights():
    """Runs written before `supernet_weights` existed trained separate weights; their stored
    resolved options do not name it, and `--resume` must not switch them to the new default
    half-way (Option.legacy). A run that stored it keeps its own value."""
    from hwnas.api.search import stored_estimator_options, stored_strategy_options
    from hwnas.searching.config import SearchConfig

    for method in ("proxyless", "spos", "enas"):
        saved = SearchConfig(strategy=method, strategy_options={"lr": 0.05}, table=None)
        old = {"strategy_resolved": {"lr": 0.05}}  # resolved options without the option
        assert stored_strategy_options(saved, old)["supernet_weights"] == "separate"
        new = {"strategy_resolved": {"lr": 0.05, "supernet_weights": "entangled"}}
        assert "supernet_weights" not in stored_strategy_options(saved, new)  # its default
        assert stored_strategy_options(saved, {}) == {"lr": 0.05}  # nothing stored: as given
    shared = SearchConfig(estimator="shared", estimator_options={}, table=None)
    assert stored_estimator_options(shared, {"estimator_resolved": {}}) == {
        "supernet_weights": "separate"}
