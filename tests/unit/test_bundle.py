"""Op bundles: export from hwnas, measure with the standalone profilers, read back as a table."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hwnas.errors import BadInputError
from hwnas.latency.table import LatencyTable
from hwnas.tables.bundle import export_bundle
from profilers import TimingConfig
from profilers.bundle import BundleError, measure_bundle
from tests.conftest import TINY_SPACE

QUICK = TimingConfig(warmup_s=0.0, min_warmup_iters=2, min_repeats=5, max_repeats=10,
                     time_budget_s=0.01)


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "ops.zip"
    export_bundle("proxyless", TINY_SPACE, path, batch=2)
    return path


def test_manifest_lists_every_op_once_with_its_onnx_file(bundle_path, tiny_space):
    import onnx

    with zipfile.ZipFile(bundle_path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        sigs = {s.key: s for s in tiny_space.all_ops()}
        assert manifest["schema"] == 1 and manifest["batch"] == 2 and manifest["dtype"] == "fp32"
        assert manifest["space"] == {"name": "proxyless", "config": tiny_space.config()}
        assert [op["key"] for op in manifest["ops"]] == list(sigs)
        assert len({op["file"] for op in manifest["ops"]}) == len(sigs) == 44
        for op in manifest["ops"][:3] + manifest["ops"][-1:]:
            sig = sigs[op["key"]]
            assert op["input_shape"] == [sig.cin, sig.h, sig.w]
            model = onnx.load_from_string(zf.read(op["file"]))
            dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
            assert dims == [2, sig.cin, sig.h, sig.w]  # the batch is baked into the model


def test_measured_bundle_is_a_hwnas_table(bundle_path, tiny_space):
    raw = measure_bundle(bundle_path, "ort-cpu", threads=1, timing=QUICK)
    table = LatencyTable.from_dict(json.loads(json.dumps(raw)))
    assert (table.backend, table.batch, table.dtype, table.threads) == ("ort-cpu", 2, "fp32", 1)
    assert table.device["backend"] == "ort-cpu" and "onnxruntime" in table.device
    assert set(table.entries) == {s.key for s in tiny_space.all_ops()}
    assert all(e["p90"] >= e["p50"] > 0 and e["n"] >= 5 for e in table.entries.values())
    sigs = tiny_space.ops(tiny_space.sample(np.random.default_rng(1)))
    assert table.predict_ops(sigs) == pytest.approx(sum(table.entries[s.key]["p50"]
                                                        for s in sigs))


def _rezip(src, dst, manifest=None, drop=()):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in drop or (manifest is not None and name == "manifest.json"):
                continue
            zout.writestr(name, zin.read(name))
        if manifest is not None:
            zout.writestr("manifest.json", manifest)
    return dst


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(schema=7), "manifest schema 7"),
    (lambda m: m.update(batch=0), "batch must be an int >= 1"),
    (lambda m: m["ops"][0].update(file="ops/nope.onnx"), "which the zip does not hold"),
    (lambda m: m["ops"][1].update(input_shape=[8, 0, 16]), "input_shape"),
    (lambda m: m["ops"].append(dict(m["ops"][0])), "twice"),
    (lambda m: m["ops"][0].update(input_shape=[8, 9, 9]), "does not fit"),
])
def test_bad_manifest_is_one_line(tmp_path, bundle_path, edit, match):
    with zipfile.ZipFile(bundle_path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    manifest["ops"] = manifest["ops"][:2]  # keep the failing cases fast
    edit(manifest)
    bad = _rezip(bundle_path, tmp_path / "bad.zip", json.dumps(manifest))
    with pytest.raises(BundleError, match=match) as err:
        measure_bundle(bad, "ort-cpu", timing=QUICK)
    assert "\n" not in str(err.value)


def test_not_a_zip_no_manifest_torch_backend(tmp_path, bundle_path):
    (tmp_path / "x.zip").write_bytes(b"not a zip at all")
    with pytest.raises(BundleError, match="not a zip file"):
        measure_bundle(tmp_path / "x.zip")
    with pytest.raises(BundleError, match="does not exist"):
        measure_bundle(tmp_path / "none.zip")
    no_manifest = _rezip(bundle_path, tmp_path / "nm.zip", drop=("manifest.json",))
    with pytest.raises(BundleError, match="has no manifest.json"):
        measure_bundle(no_manifest)
    with zipfile.ZipFile(bundle_path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    first = manifest["ops"][0]
    manifest["ops"] = [first]
    with zipfile.ZipFile(tmp_path / "corrupt.zip", "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr(first["file"], b"\x08not onnx")
    with pytest.raises(BundleError, match="INVALID_PROTOBUF"):
        measure_bundle(tmp_path / "corrupt.zip", timing=QUICK)
    with pytest.raises(BundleError, match="measures torch modules.*ort-cpu"):
        measure_bundle(bundle_path, "torch-cpu")
    with pytest.raises(BundleError, match="Did you mean 'ort-cpu'"):
        measure_bundle(bundle_path, "ort-cp")


def test_export_checks_its_arguments(tmp_path):
    with pytest.raises(BadInputError, match="dtype"):
        export_bundle("proxyless", TINY_SPACE, tmp_path / "b.zip", dtype="int8")
    with pytest.raises(BadInputError, match="did you mean 'proxyless'"):
        export_bundle("proxyles", TINY_SPACE, tmp_path / "b.zip")
    assert not (tmp_path / "b.zip").exists()


def test_standalone_side_imports_neither_hwnas_nor_torch():
    code = ("import sys, profilers.bundle, profilers.__main__; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'hwnas', 'torch', 'onnx'}))")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root).stdout.strip()
    assert out == "[]"


def _measure_cli(*args):
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-m", "profilers", "measure", *map(str, args)],
                          capture_output=True, text=True, cwd=root, timeout=120)


def test_measure_refuses_an_output_it_would_destroy_before_measuring(tmp_path, bundle_path):
    """A device node, a FIFO, a folder, a path under a file, /proc: one line, exit 2, before
    any op is timed, and the path left as it was (the rename would replace /dev/full)."""
    import os
    import stat

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    afile = tmp_path / "plain"
    afile.write_text("x")
    for out in ("/dev/full", fifo, tmp_path, afile / "t.json", "/proc/hwnas-t.json"):
        proc = _measure_cli(bundle_path, "--quiet", "-o", out)
        assert proc.returncode == 2, (out, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "--out" in proc.stderr, proc.stderr
        assert "[1/" not in proc.stderr  # nothing measured
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and afile.read_text() == "x"


def test_a_bundle_that_is_not_a_file_or_would_inflate_too_far_is_refused_unread(tmp_path):
    import os

    from profilers import bundle

    fifo = tmp_path / "b.fifo"
    os.mkfifo(fifo)
    with pytest.raises(BundleError, match="not a regular file"):
        measure_bundle(fifo)  # would block for ever in open()
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", "{}")
        with zf.open("op.onnx", "w", force_zip64=True) as fh:
            chunk = bytes(1 << 20)
            for _ in range((bundle.MAX_MEMBER_BYTES >> 20) + 1):
                fh.write(chunk)
    assert bomb.stat().st_size < 2 << 20
    with pytest.raises(BundleError, match="would inflate"):
        measure_bundle(bomb)
