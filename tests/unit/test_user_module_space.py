"""The `module` space: a user's torch module with `hwnas.choice` points, checked against the
hand-written `proxyless` space it repeats (examples/spaces/mbconv_choices.py)."""

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.registry import SPACES
from hwnas.spaces.proxyless import ProxylessSpace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "spaces" / "mbconv_choices.py"
SMALL = {"resolution": 16}


def module_space(ref: str, **options):
    return SPACES.get("module")(factory=ref, **options)


@pytest.fixture(scope="module")
def pair():
    return module_space(f"{EXAMPLE}:build_model", **SMALL), ProxylessSpace(resolution=16,
                                                                            width_mult=0.25)


def test_choice_is_public_and_checks_its_input():
    from hwnas import choice

    point = choice([nn.Conv2d(3, 3, 1), nn.Identity()], "c")
    assert point.names == ("0", "1") and point.chosen == "0"
    for bad, needle in [(lambda: choice({}, "c"), "non-empty"),
                        (lambda: choice({"a|b": nn.Identity()}, "c"), "candidate name"),
                        (lambda: choice({"a": 3}, "c"), "not an nn.Module"),
                        (lambda: choice({"a": nn.Identity()}, "x=y"), "label"),
                        (lambda: choice({"a": choice({"b": nn.Identity()}, "in")}, "out"),
                         "cannot be nested")]:
        with pytest.raises(BadInputError, match=needle):
            bad()


def test_the_choice_module_is_the_proxyless_space(pair):
    """Labels and options equal (identity mapping); each op the same shape, stride and place;
    with proxyless's weights loaded, the same outputs."""
    mine, theirs = pair
    assert mine.choices() == theirs.choices()
    rng = np.random.default_rng(2)
    x = torch.randn(2, 3, 16, 16)
    for _ in range(3):
        values = theirs.sample(rng).values
        ours, reference = Arch("module", values), Arch("proxyless", values)
        sigs, ref_sigs = mine.ops(ours), theirs.ops(reference)
        assert [s.op for s in sigs] == ["user_fixed"] + ["user"] * (len(sigs) - 2) + [
            "user_fixed"]
        shape = lambda s: (s.cin, s.h, s.w, s.stride)  # noqa: E731
        assert [shape(s) for s in sigs] == [shape(s) for s in ref_sigs]
        assert [s.cout for s in sigs[:-1]] == [s.cout for s in ref_sigs[:-1]]
        chosen = [(dict(s.extra)["label"], dict(s.extra)["cand"]) for s in sigs[1:-1]]
        assert chosen == [(k, v) for k, v in values.items() if v != "zero"]
        a, b = mine.build(ours).eval(), theirs.build(reference).eval()
        assert [p.shape for p in a.parameters()] == [p.shape for p in b.parameters()]
        a.load_state_dict(dict(zip(a.state_dict(), b.state_dict().values(), strict=True)))
        with torch.no_grad():
            assert torch.allclose(a(x), b(x), atol=1e-6)


def test_positions_add_up_and_build_op_rebuilds_each_part(pair):
    mine, _ = pair
    rng = np.random.default_rng(4)
    fixed = Counter(s.key for s in mine.fixed_ops())
    positions = mine.positions()
    assert all(p.ops["zero"] == () for p in positions if "zero" in p.options)
    for _ in range(10):
        arch = mine.sample(rng)
        chosen = sum((Counter(s.key for s in p.ops[arch.values[p.label]]) for p in positions),
                     Counter())
        assert Counter(s.key for s in mine.ops(arch)) == fixed + chosen
    # the example is a chain: its parts, rebuilt alone and run in order, are the network
    arch = mine.sample(rng)
    x = torch.randn(1, 3, 16, 16)
    torch.manual_seed(7)
    whole = mine.build(arch).eval()
    parts = [mine.build_op(sig).eval() for sig in mine.ops(arch)]
    with torch.no_grad():
        y = x
        for part in parts:
            y = part(y)
        assert torch.allclose(whole(x), y, atol=1e-6)
    assert {s.key for s in mine.all_ops()} >= {s.key for s in mine.ops(arch)}


def test_weights_follow_the_seed_without_advancing_it():
    space = SPACES.get("module")(**SMALL)
    arch = space.default_arch()
    torch.manual_seed(1)
    a = next(space.build(arch).parameters()).clone()
    after = torch.rand(1)  # building drew nothing from the global RNG
    torch.manual_seed(1)
    assert torch.equal(torch.rand(1), after)
    torch.manual_seed(1)
    assert torch.equal(next(space.build(arch).parameters()), a)
    torch.manual_seed(2)
    assert not torch.equal(next(space.build(arch).parameters()), a)


def test_config_round_trip_and_a_changed_file_is_refused(tmp_path):
    path = tmp_path / "net.py"
    shutil.copy(EXAMPLE, path)
    space = module_space(f"{path}:build_model", **SMALL, num_classes=5)
    config = json.loads(json.dumps(space.config()))
    assert config["factory"] == f"{path.resolve()}:build_model" and len(config["sha256"]) == 64
    rebuilt = SPACES.get("module")(**config)
    arch = space.sample(np.random.default_rng(0))
    assert rebuilt.config() == config
    assert [s.key for s in rebuilt.ops(arch)] == [s.key for s in space.ops(arch)]
    assert rebuilt.build(arch)(torch.randn(1, 3, 16, 16)).shape == (1, 5)
    path.write_text(path.read_text() + "\n# edited\n")
    with pytest.raises(BadInputError) as err:
        SPACES.get("module")(**config)
    assert "has changed since" in str(err.value) and "\n" not in str(err.value)


BAD_MODULES = {
    "no_choice": ("def build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(48, 10))\n",
                  "no hwnas.choice point"),
    "odd_shapes": ("def build():\n    return nn.Sequential(choice({'a': nn.Conv2d(3, 8, 1), "
                   "'b': nn.Conv2d(3, 4, 1)}, 'c'), nn.Flatten(), nn.LazyLinear(10))\n",
                   "candidates give other output shapes"),
    "twice": ("def build():\n    return nn.Sequential(choice([nn.Identity()], 'c'), "
              "choice([nn.Identity()], 'c'), nn.Flatten(), nn.Linear(48, 10))\n",
              "used twice"),
    "classes": ("def build():\n    return nn.Sequential(choice([nn.Identity()], 'c'), "
                "nn.Flatten(), nn.Linear(48, 3))\n", "not 10 classes"),
}


@pytest.mark.parametrize("name", sorted(BAD_MODULES))
def test_bad_modules_are_refused_in_one_line(tmp_path, name):
    code, needle = BAD_MODULES[name]
    path = tmp_path / f"{name}.py"
    path.write_text("import torch.nn as nn\nfrom hwnas import choice\n\n" + code)
    with pytest.raises(BadInputError) as err:
        module_space(f"{path}:build", resolution=4).choices()
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_missing_factory_names_the_closest(tmp_path):
    path = tmp_path / "net.py"
    path.write_text("def build_model():\n    pass\n")
    with pytest.raises(BadInputError, match="did you mean 'build_model'"):
        module_space(f"{path}:build_modle").choices()
    with pytest.raises(BadInputError, match="does not exist"):
        module_space(f"{tmp_path / 'none.py'}:build")


def test_flat_parts_are_priced_at_their_own_shape(tmp_path):
    """A classifier choice on (batch, features): priced with `in` kept in its key, rebuilt to
    take the (batch, cin, 1, 1) input a profiler feeds."""
    path = tmp_path / "flat.py"
    path.write_text(
        "import torch.nn as nn\nfrom hwnas import choice\n\n"
        "def build(num_classes=10):\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.Flatten(),\n"
        "                         choice({'small': nn.Linear(64, num_classes),\n"
        "                                 'mlp': nn.Sequential(nn.Linear(64, 32), nn.ReLU(),\n"
        "                                                      nn.Linear(32, num_classes))},\n"
        "                                'classifier'))\n")
    space = module_space(f"{path}:build", resolution=8)
    arch = Arch("module", {"classifier": "mlp"})
    conv, flatten, head = space.ops(arch)
    assert (conv.cin, conv.cout, conv.h, conv.stride) == (3, 4, 8, 2)
    assert (flatten.cin, flatten.h, flatten.cout, dict(flatten.extra)["path"]) == (4, 4, 64, "1")
    assert (head.cin, head.cout, head.h, dict(head.extra)["in"]) == (64, 10, 1, "64")
    out = space.build_op(head)(torch.randn(2, 64, 1, 1))
    assert out.shape == (2, 10)
