"""The `declared` space: a chain of stages from a YAML/JSON file, checked against the hand-written
`proxyless` space it can repeat, and every file mistake refused in one line."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.registry import SPACES
from hwnas.spaces.declared import TINY_CHAIN, DeclaredSpace, options_from_file
from hwnas.spaces.declared_spec import normalise_spec
from hwnas.spaces.proxyless import ProxylessSpace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "spaces"
SMALL = {"resolution": 16, "width_mult": 0.25}


def declared(path: Path, **options) -> DeclaredSpace:
    return SPACES.get("declared")(**options_from_file(path), **options)


def keys(sigs) -> Counter:
    return Counter(s.key for s in sigs)


def test_the_shipped_tiny_chain_is_the_default_space():
    from_file = declared(EXAMPLES / "tiny_chain.yaml")
    default = DeclaredSpace()
    assert json.loads(from_file.spec) == normalise_spec(TINY_CHAIN)
    assert from_file.choices() == default.choices()
    assert from_file.source.endswith("tiny_chain.yaml")


def test_a_file_of_proxyless_stages_is_the_proxyless_space():
    """Same labels and options (the label mapping is the identity), same op keys, positions and
    fixed ops, and under one torch seed the same network, output for output."""
    mine = declared(EXAMPLES / "proxyless.yaml", **SMALL)
    theirs = ProxylessSpace(**SMALL)
    assert mine.choices() == theirs.choices()
    assert [s.key for s in mine.fixed_ops()] == [s.key for s in theirs.fixed_ops()]
    assert [(p.label, {o: [s.key for s in p.ops[o]] for o in p.options})
            for p in mine.positions()] == [
        (p.label, {o: [s.key for s in p.ops[o]] for o in p.options}) for p in theirs.positions()]
    assert keys(mine.all_ops()) == keys(theirs.all_ops())
    rng = np.random.default_rng(1)
    x = torch.randn(2, 3, 16, 16)
    for _ in range(4):
        values = theirs.sample(rng).values
        arch_t, arch_m = Arch("proxyless", values), Arch("declared", values)
        assert [s.key for s in mine.ops(arch_m)] == [s.key for s in theirs.ops(arch_t)]
        torch.manual_seed(3)
        a = mine.build(arch_m).eval()
        torch.manual_seed(3)
        b = theirs.build(arch_t).eval()
        with torch.no_grad():
            assert torch.equal(a(x), b(x))
        assert mine.compact(arch_m).replace("-", "") == theirs.compact(arch_t).replace("-", "")


def test_config_round_trip_rebuilds_without_the_file(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(TINY_CHAIN))
    space = declared(path, num_classes=7)
    config = json.loads(json.dumps(space.config()))  # as a run stores it
    path.unlink()  # a Ray worker or `hwnas export` has the config, not the file
    rebuilt = SPACES.get("declared")(**config)
    assert rebuilt.config() == space.config() and rebuilt.num_classes == 7
    arch = space.sample(np.random.default_rng(0))
    assert [s.key for s in rebuilt.ops(arch)] == [s.key for s in space.ops(arch)]
    # YAML and JSON of one space store one canonical text
    (tmp_path / "same.yaml").write_text(yaml.safe_dump(TINY_CHAIN))
    assert declared(tmp_path / "same.yaml").spec == space.spec


def test_depth_choice_changes_the_network():
    space = DeclaredSpace()
    base = {label: opts[0] for label, opts in space.choices()}
    deep = Arch("declared", base)
    shallow = Arch("declared", {**base, "s3.b1": "zero", "s3.b2": "zero"})
    assert len(space.ops(deep)) == len(space.ops(shallow)) + 2
    count = lambda arch: sum(p.numel() for p in space.build(arch).parameters())  # noqa: E731
    assert count(deep) > count(shallow)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 16, 16)
    torch.manual_seed(1)
    a = space.build(deep).eval()
    torch.manual_seed(1)
    b = space.build(shallow).eval()
    with torch.no_grad():
        assert not torch.allclose(a(x), b(x))
    # a stage's depth range [1, 2, 3]: layer 0 always runs, layers 1 and 2 may be zero
    options = dict(space.choices())
    assert "zero" not in options["s3.b0"] and "zero" in options["s3.b2"]
    # zero in the middle of a stage is the network with zero at its end
    middle = Arch("declared", {**base, "s3.b1": "zero", "s3.b2": "conv_k3"})
    end = Arch("declared", {**base, "s3.b1": "conv_k3", "s3.b2": "zero"})
    assert space.network_key(middle) == space.network_key(end) != space.network_key(deep)


def test_block_se_and_shortcut_choices_build_what_their_ops_say():
    from hwnas.spaces.modules.chain_blocks import ChainBlock, SqueezeExcite

    spec = {"resolution": 16, "stem": {"width": 16}, "head": {"width": 32}, "stages": [
        {"width": 16, "stride": 1, "block": ["mbconv", "dwsep", "conv"], "kernel": [3],
         "expand": [4], "se": [False, True], "skip": [True, False]}]}
    space = DeclaredSpace(spec=json.dumps(spec))
    (label, options), = space.choices()
    assert options == ("mb_k3_e4", "mb_k3_e4_nores", "mb_k3_e4_se", "mb_k3_e4_se_nores",
                       "dw_k3", "dw_k3_nores", "dw_k3_se", "dw_k3_se_nores",
                       "conv_k3", "conv_k3_nores", "conv_k3_se", "conv_k3_se_nores")
    (position,) = space.positions()
    (se_sig,) = position.ops["dw_k3_se_nores"]
    assert se_sig.key == "mbconv|cin=16|cout=16|hw=16|k=3|s=1|e=1|res=0|se=0.25"
    block = space.build_op(se_sig)
    assert isinstance(block, ChainBlock) and not block.residual
    assert any(isinstance(m, SqueezeExcite) for m in block.modules())
    # the shortcut is really there, or not: a block with zeroed body returns x, or zeros
    plain = space.build_op(position.ops["conv_k3"][0]).eval()
    for module in (plain, block.eval()):
        for p in module.parameters():
            torch.nn.init.zeros_(p)
    x = torch.randn(1, 16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(plain(x), x)  # conv-BN-ReLU6 of zeros is 0, plus the input
        assert torch.count_nonzero(block(x)) == 0
    # a stride-2 first layer cannot have a shortcut: no `_nores` twins there
    strided = DeclaredSpace(spec=json.dumps({**spec, "stages": [
        {**spec["stages"][0], "stride": 2}]}))
    assert not any(o.endswith("nores") for o in strided.choices()[0][1])


def test_width_choices_change_the_shapes_and_refuse_a_supernet():
    spec = {**TINY_CHAIN, "stages": [dict(s) for s in TINY_CHAIN["stages"]]}
    spec["stages"][1]["widths"] = [0.5, 1.0, 40]
    space = DeclaredSpace(spec=json.dumps(spec))
    options = dict(space.choices())
    assert options["s2.width"] == (16, 24, 40)
    assert not space.positions_add_up
    rng = np.random.default_rng(0)
    profiled = {s.key for s in space.all_ops()}
    for _ in range(20):
        arch = space.sample(rng)
        width = arch.values["s2.width"]
        sigs = space.ops(arch)
        assert keys(sigs).keys() <= profiled
        assert sigs[-1].op == "head"
        s3_first = next(s for s in sigs if s.cout == 32 and s.stride == 2)
        assert s3_first.cin == width
    arch = space.sample(rng)
    assert space.build(arch)(torch.randn(1, 3, 16, 16)).shape == (1, 10)
    with pytest.raises(BadInputError, match=r"s2\.width have several"):
        space.positions()


BAD_FILES = [
    # (change to the tiny chain, text every refusal must contain)
    (lambda s: s["stages"][0].update(kernal=[3]),
     ["stages[0].kernal: unknown key", "did you mean 'kernel'?", "allowed: width, stride"]),
    (lambda s: s["stages"][2].update(kernel=[3, 4]),
     ["stages[2].kernel[1]: 4 is not allowed", "allowed: 1, 3, 5, 7, 9", "closest: 3"]),
    (lambda s: s["stages"][1].update(block=["mbconv", "mbconf"]),
     ["stages[1].block[1]: 'mbconf' is not allowed", "mbconv, dwsep, conv",
      "did you mean 'mbconv'?"]),
    (lambda s: s["stages"][0].update(depth=[1, 3]), ["stages[0].depth", "consecutive"]),
    (lambda s: s["stages"][0].update(widths=[1]), ["stages[0].widths[0]", "write 1.0"]),
    (lambda s: s["stages"][0].update(stride=3), ["stages[0].stride: 3 is not allowed",
                                                 "allowed: 1, 2"]),
    (lambda s: s["stages"][0].update(se="yes"), ["stages[0].se: must be true or false"]),
    (lambda s: s.update(resolutoin=16), ["resolutoin: unknown key", "'resolution'"]),
    (lambda s: s.pop("stages"), ["missing key 'stages'"]),
    (lambda s: s["stages"][0].pop("width"), ["stages[0]: missing key 'width'"]),
    (lambda s: s.update(head={"width": "wide"}), ["head.width: must be an integer"]),
]


@pytest.mark.parametrize("change,needles", BAD_FILES)
def test_bad_files_are_refused_in_one_line(tmp_path, change, needles):
    spec = json.loads(json.dumps(TINY_CHAIN))
    change(spec)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(BadInputError) as err:
        options_from_file(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    for needle in needles:
        assert needle in message, (needle, message)


def test_unreadable_files_are_refused_in_one_line(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("stages: [ {width: 8\n")
    with pytest.raises(BadInputError, match=r"broken\.yaml: not valid YAML: .* at line \d+"):
        options_from_file(broken)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{'stages': []}")
    with pytest.raises(BadInputError, match=r"bad\.json: not valid JSON: .* line 1"):
        options_from_file(bad_json)
    with pytest.raises(BadInputError, match="must end in"):
        options_from_file(tmp_path / "space.txt")
    with pytest.raises(BadInputError, match="'spec' option .* must be JSON text"):
        DeclaredSpace(spec="{not json")


def test_the_cli_takes_a_file_for_space(tmp_path):
    from hwnas.cli.options import space_and_options

    name, config = space_and_options(str(EXAMPLES / "tiny_chain.yaml"), ("resolution=24",))
    assert name == "declared" and config["resolution"] == 24
    assert SPACES.get(name)(**config).input_shape == (3, 24, 24)
    assert space_and_options("proxyless", ()) == ("proxyless", {})
    with pytest.raises(BadInputError, match="no such space file"):
        space_and_options(str(tmp_path / "missing.yaml"), ())


def test_printed_profile_commands_name_the_file_not_its_content(tmp_path):
    """A table of a declared space says how to profile it again: `--space FILE`, as typed,
    not the file's whole JSON as `--space-opt spec=...`; once the file is gone, the spec."""
    import shutil

    from hwnas.latency.space_match import profile_command
    from hwnas.latency.table import LatencyTable

    path = tmp_path / "mine.yaml"
    shutil.copy(EXAMPLES / "tiny_chain.yaml", path)
    space = declared(path, resolution=24)
    table = LatencyTable(backend="ort-cpu", device={"cpu": "test"},
                         space={"name": space.name, "config": space.config()})
    for command in (profile_command(table, space), table.fill_command()):
        assert f"--space {path}" in command and "spec=" not in command
        assert "--space-opt resolution=24" in command
    path.unlink()
    assert "--space declared" in table.fill_command() and "spec=" in table.fill_command()


def test_the_command_line_refuses_a_bad_file_before_writing(tmp_path):
    from tests.cli.helpers import assert_one_line_error, hwnas

    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - {width: 16, stride: 1, kernel: [4]}\n")
    out = tmp_path / "t.json"
    proc = hwnas("profile", "--space", str(bad), "--out", str(out))
    assert_one_line_error(proc, 2, f"{bad}: stages[0].kernel[0]: 4 is not allowed", "closest: 3")
    assert not out.exists()


@pytest.mark.slow
def test_profile_search_export_on_a_declared_space(tmp_path):
    """The README flow on examples/spaces/tiny_chain.yaml through the real entry point."""
    from tests.cli.helpers import hwnas

    space = ("--space", str(EXAMPLES / "tiny_chain.yaml"))
    table, run, onnx_file = tmp_path / "t.json", tmp_path / "run", tmp_path / "m.onnx"
    proc = hwnas("profile", *space, "--backend", "ort-cpu", "--threads", "1",
                 "--latency-stat", "p10", "-o", str(table), "--json")
    assert proc.returncode == 0, proc.stderr
    entries = json.loads(table.read_text())["entries"]
    assert set(entries) == {s.key for s in DeclaredSpace().all_ops()}
    proc = hwnas("search", *space, "--table", str(table), "--method", "evolution",
                 "--strategy-opt", "population=3", "--strategy-opt", "sample_size=2",
                 "--estimator-opt", "epochs=1", "--estimator-opt", "train_subset=200",
                 "--budget", "4", "--run-dir", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["search"]["space"] == "declared"
    assert json.loads(config["space_resolved"]["spec"]) == normalise_spec(TINY_CHAIN)
    proc = hwnas("export", str(run), "--pick", "accuracy>=0", "-o", str(onnx_file))
    assert proc.returncode == 0, proc.stderr
    assert onnx_file.stat().st_size > 1000
