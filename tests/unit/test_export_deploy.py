"""`hwnas export` ships what was measured: weights of the resolution it exports at (proxy
weights of another resolution, or none, are refused in one line), the file's own accuracy
through onnxruntime on the held-out test split (a broken file is caught), a dynamic batch axis
and the metadata a deployment needs."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from hwnas.api import train as job
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.errors import HwnasRuntimeError
from tests.train_helpers import write_run


def cli(capsys, *args) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kept, expected", [(True, "were trained at 8x8, a proxy"),
                                            (False, "the run kept no weights for it")])
def test_weights_of_another_resolution_or_none_are_refused(tmp_path, capsys, kept, expected):
    run, keys = write_run(tmp_path / "run", keep_weights=kept)
    out = tmp_path / "model.onnx"
    code, _, err = cli(capsys, "export", run.path, "--arch", keys[0], "-o", out)
    line = err.strip()
    assert code == 2 and "\n" not in line and expected in line
    assert "exported and timed at 16x16" in line
    assert f"`hwnas train {run.path} --arch {keys[0]}`" in line and "--untrained" in line
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not (run.path / "exports").exists()
    # the dry run says the same, and writes nothing either
    code, printed, _ = cli(capsys, "export", run.path, "--arch", keys[0], "--dry-run")
    assert code == 0 and "none that export accepts yet" in printed


def test_search_weights_at_the_deploy_resolution_and_untrained_on_purpose(tmp_path, capsys):
    run, keys = write_run(tmp_path / "run", proxy_resolution=None)  # trained at 16x16 itself
    code, out, err = cli(capsys, "export", run.path, "--arch", keys[0], "--json",
                         "-o", tmp_path / "search.onnx")
    assert code == 0, err
    report = json.loads(out)
    assert report["accuracies"]["weights"] == "search" and report["accuracies"]["final"] is None
    assert report["onnx_accuracy"]["claimed"] is None  # compared with PyTorch's own instead
    code, out, err = cli(capsys, "export", run.path, "--arch", keys[1], "--untrained",
                         "-o", tmp_path / "random.onnx")
    assert code == 0, err
    assert "untrained (random initialisation, asked for with --untrained)" in out
    assert "this ONNX file" in out and "accuracy is chance, as asked" in out


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("exported")
    run, keys = write_run(root / "run")
    trained = job.train(run.path, arch_key=keys[1], epochs=1)
    out = root / "model.onnx"
    code = run_app(app, ["export", str(run.path), "--arch", keys[1], "-o", str(out), "--json"])
    assert code == 0
    return run, keys, trained, out


def test_the_export_reports_three_accuracies_and_its_own_is_the_trained_one(exported):
    _, _, trained, out = exported
    report = json.loads(out.with_suffix(".json").read_text())
    acc = report["accuracies"]
    assert acc["weights"] == "final"
    assert acc["proxy"]["accuracy"] == 0.6 and acc["proxy"]["split"] == "val"
    assert "2 epochs on 768 images at 8x8" in acc["proxy"]["what"]
    assert acc["final"]["accuracy"] == trained["test_accuracy"] and acc["final"]["split"] == "test"
    assert acc["onnx"]["images"] == 359 and acc["onnx"]["split"] == "test"
    assert abs(acc["onnx"]["accuracy"] - trained["test_accuracy"]) <= 0.02
    assert report["onnx_accuracy"]["agreement"] >= 0.99


def test_the_file_has_a_dynamic_batch_and_the_metadata_to_deploy_it(exported):
    _, keys, _, out = exported
    model = onnx.load(str(out))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["hwnas.arch_key"] == keys[1] and meta["hwnas.weights"] == "final"
    assert json.loads(meta["hwnas.input_shape"]) == ["batch", 3, 16, 16]
    assert json.loads(meta["hwnas.class_names"]) == [str(i) for i in range(10)]
    norm = json.loads(meta["hwnas.normalisation"])
    assert len(norm["mean"]) == len(norm["std"]) == 3 and "hwnas.version" in meta
    # what a user does with it: normalise their images as the metadata says, any batch size
    from hwnas.data import _read_digits

    x, y, _ = _read_digits(16)
    x = ((x.numpy() - np.array(norm["mean"]).reshape(1, 3, 1, 1))
         / np.array(norm["std"]).reshape(1, 3, 1, 1)).astype(np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        assert session.run(None, {"input": x[:batch]})[0].shape == (batch, 10)


def test_a_broken_file_is_caught_by_its_accuracy_and_not_written(exported, tmp_path, monkeypatch):
    """A file that computes something else than the trained network: here the graph of the
    same architecture with other (random) weights, and a parity check fooled into passing.
    The accuracy through onnxruntime on the held-out images is what catches it."""
    import torch

    from hwnas.tables import export as export_module

    run, keys, trained, _ = exported
    real = export_module.module_to_onnx

    def other_weights(model, shape, **kw):
        torch.manual_seed(123)
        for p in model.parameters():
            p.data = torch.randn_like(p)
        return real(model, shape, **kw)

    monkeypatch.setattr(export_module, "module_to_onnx", other_weights)
    monkeypatch.setattr(export_module, "_parity", lambda *a: 0.0)
    out = tmp_path / "broken.onnx"
    from hwnas import api

    with pytest.raises(HwnasRuntimeError) as info:
        api.export(run.path, arch_key=keys[1], out=out)
    message = str(info.value)
    assert "held-out test images through onnxruntime" in message
    assert f"hwnas reports for these weights {trained['test_accuracy']:.4f}" in message
    assert "was not written" in message and not out.exists()


def test_the_accuracy_check_compares_with_the_claim():
    import torch

    from hwnas.nn.onnx_accuracy import check_accuracy
    from hwnas.nn.onnx_io import module_to_onnx

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)).eval()
    x = torch.randn(40, 3, 2, 2)
    y = model(x).argmax(1)  # the model is right on every image
    data = module_to_onnx(model, (1, 3, 2, 2), dynamic_batch=True)
    check = check_accuracy(data, model, x, y, claimed=1.0)
    assert check.onnx == check.torch == check.agreement == 1.0 and check.images == 40
    with pytest.raises(HwnasRuntimeError, match="scores 1.0000 .* reports for these weights 0.5"):
        check_accuracy(data, model, x, y, claimed=0.5)


def test_export_says_when_the_runs_table_changed(tmp_path, capsys):
    run, keys = write_run(tmp_path / "run", proxy_resolution=None, table=True)
    table_path = run.config()["table"]["path"]
    args = ("export", run.path, "--arch", keys[0], "--json", "-o", tmp_path / "a.onnx")
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    report = json.loads(out)
    assert not [w for w in report["warnings"] if "changed since" in w]
    from hwnas.latency.table import LatencyTable

    table = LatencyTable.load(table_path)
    assert onnx_meta(tmp_path / "a.onnx")["hwnas.table_hash"] == table.content_hash()
    for entry in table.entries.values():
        entry["p50"] *= 2  # re-profiled on a slower day
    table.save(table_path)
    code, out, err = cli(capsys, *args[:-1], tmp_path / "b.onnx")
    assert code == 0, err
    changed = [w for w in json.loads(out)["warnings"] if "changed since this run used it" in w]
    assert len(changed) == 1 and table_path in changed[0]


def onnx_meta(path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_a_front_says_its_accuracy_is_the_search_estimate(tmp_path):
    from hwnas import api

    run, _ = write_run(tmp_path / "run")
    (entry,) = api.pareto([run.path], draw=False)["runs"]
    note = entry["accuracy_note"]
    assert "search's estimate (2 epochs on 768 images at 8x8, validation split)" in note
    assert "deployed at 16x16" in note and "hwnas train" in note
    same, _ = write_run(tmp_path / "same", proxy_resolution=None)
    (entry,) = api.pareto([same.path], draw=False)["runs"]
    assert "deployed at" not in entry["accuracy_note"]
