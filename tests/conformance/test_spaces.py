"""Every registered space: sample -> ops -> build -> forward -> ONNX -> onnxruntime parity; the
contract the base class relies on (num_classes, input_shape, declared options, positions)."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from hwnas.errors import BadInputError
from hwnas.nn.onnx_io import module_to_onnx
from hwnas.registry import SPACES

# Each space's small instance, as it declares it (`small_options`).
SMALL = {name: SPACES.get(name).small_options for name in SPACES.names()}


@pytest.mark.parametrize("name", SPACES.names())
def test_space_round_trip_to_onnxruntime(name):
    space = SPACES.get(name)(**SMALL.get(name, {}))
    rebuilt = SPACES.get(name)(**space.config())
    assert rebuilt.config() == space.config()
    rng = np.random.default_rng(0)
    for _ in range(2):
        arch = space.sample(rng)
        sigs = space.ops(arch)
        assert sigs and all(s.key for s in sigs)
        model = space.build(arch).eval()
        x = torch.randn(1, *space.input_shape)
        with torch.inference_mode():
            expected = model(x).numpy()
        assert np.isfinite(expected).all()
        data = module_to_onnx(model, tuple(x.shape))
        onnx.checker.check_model(onnx.load_from_string(data))
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        assert np.max(np.abs(got - expected)) < 1e-4


@pytest.mark.parametrize("name", SPACES.names())
def test_each_op_rebuilds_from_its_signature(name):
    """The network is exactly the chain of its ops, so the table's sum covers all of it."""
    space = SPACES.get(name)(**SMALL.get(name, {}))
    arch = space.sample(np.random.default_rng(5))
    if not getattr(space, "is_chain", True):
        # A DAG of cells (nb201): its ops cannot be chained, but the network must hold exactly
        # their modules, created in the order of `ops(arch)`.
        torch.manual_seed(0)
        whole = list(space.build(arch).parameters())
        torch.manual_seed(0)
        parts = [p for sig in space.ops(arch) for p in space.build_op(sig).parameters()]
        assert len(whole) == len(parts)
        assert all(torch.equal(a, b) for a, b in zip(whole, parts, strict=True))
        return
    x = torch.randn(1, *space.input_shape)
    torch.manual_seed(0)
    whole = space.build(arch).eval()
    torch.manual_seed(0)
    chained = [space.build_op(sig).eval() for sig in space.ops(arch)]
    with torch.inference_mode():
        y = x
        for module in chained:
            y = module(y)
        assert torch.allclose(whole(x), y, atol=1e-6)


@pytest.mark.parametrize("name", SPACES.names())
def test_space_declares_num_classes_and_input_shape(name):
    """hwnas search sets `num_classes` from the dataset and the scratch estimator reads
    `num_classes` and `input_shape`: a space without them would fail as an internal error."""
    cls = SPACES.get(name)
    assert "num_classes" in cls.option_specs
    space = cls(**SMALL.get(name, {}), num_classes=7)
    assert space.num_classes == 7 and space.config()["num_classes"] == 7
    shape = space.input_shape
    assert len(shape) == 3 and all(isinstance(n, int) and n > 0 for n in shape)


@pytest.mark.parametrize("name", SPACES.names())
def test_every_declared_option_refuses_its_invalid_values(name):
    cls = SPACES.get(name)
    assert cls.kind == "search space" and cls.registry_name == name
    for option, spec in cls.option_specs.items():
        for value in spec.invalid_values():
            with pytest.raises(BadInputError, match=f"The '{option}' option of search space "
                                                    f"'{name}' must be"):
                cls(**{**SMALL.get(name, {}), option: value})


@pytest.mark.parametrize("name", SPACES.names())
def test_positions_follow_choices_and_are_profiled(name):
    space = SPACES.get(name)(**SMALL.get(name, {}))
    positions = space.positions()
    if space.positions_are_choices:
        assert [(p.label, p.options) for p in positions] == space.choices()
    else:
        # a supernet's own view: every architecture maps to one option per position and is
        # derived back from that one-hot choice
        rng = np.random.default_rng(3)
        for _ in range(20):
            arch = space.sample(rng)
            values = space.position_values(arch)
            assert [v in p.options for p, v in zip(positions, values, strict=True)] == \
                [True] * len(positions)
            one_hot = [[float(o == v) for o in p.options]
                       for p, v in zip(positions, values, strict=True)]
            assert space.arch_from_positions(one_hot) == arch
    profiled = {sig.key for sig in space.all_ops()}
    listed = {s.key for p in positions for sigs in p.ops.values() for s in sigs}
    assert listed and listed <= profiled
    assert {s.key for s in space.fixed_ops()} <= profiled
