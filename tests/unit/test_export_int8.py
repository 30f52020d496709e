"""`hwnas export --int8`: the proven fp32 file quantized as the run's int8 table's networks are
(else INT8), calibrated on training images, scored through onnxruntime on the same held-out
images as the fp32 file and measured beside it; refused in one line on a backend without an
int8 path. A run searched on an int8 table is an int8 deployment: its export writes the int8
file unasked and compares the table's prediction with the int8 file's re-timing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from hwnas.api import train as job
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.latency.table import LatencyTable
from hwnas.nn.quantize import INT8
from tests.train_helpers import SPACE, write_run


def cli(capsys, *args) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A run on an fp32 table, one candidate trained for an epoch, exported with --int8."""
    root = tmp_path_factory.mktemp("int8")
    run, keys = write_run(root / "run", table=True)
    job.train(run.path, arch_key=keys[1], epochs=1)
    out = root / "model.onnx"
    code = run_app(app, ["export", str(run.path), "--arch", keys[1], "-o", str(out), "--int8",
                         "--json"])
    assert code == 0
    return run, keys, out, json.loads(out.with_suffix(".json").read_text())


def _initializers(model) -> dict:
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _weight_scales(model) -> list[np.ndarray]:
    """The scale of every weight a Conv reads through a DequantizeLinear of an int8 initializer
    (activations are quantized by QuantizeLinear nodes, weights are stored quantized)."""
    inits = _initializers(model)
    producers = {o: n for n in model.graph.node for o in n.output}
    scales = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        weight = producers[node.input[1]]
        assert weight.op_type == "DequantizeLinear" and inits[weight.input[0]].dtype == np.int8
        scales.append((inits[weight.input[1]], inits[weight.input[0]].shape[0]))
    return scales


def _activation_scales(model) -> dict[str, float]:
    inits = _initializers(model)
    return {n.input[1]: float(inits[n.input[1]]) for n in model.graph.node
            if n.op_type == "QuantizeLinear" and n.input[1] in inits}


def test_int8_writes_a_qdq_file_with_per_channel_weights_calibrated_on_training_images(
        exported):
    _, _, out, report = exported
    int8_path = out.with_name("model.int8.onnx")
    assert report["int8"]["onnx_path"] == str(int8_path) and int8_path.exists()
    model = onnx.load(str(int8_path))
    kinds = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= kinds
    scales = _weight_scales(model)
    assert scales and all(s.size == channels > 1 or channels == 1 for s, channels in scales)
    assert any(s.size > 1 for s, _ in scales)  # one scale per output channel
    settings = report["int8"]["quantization"]
    assert settings == {**INT8.to_dict(), "calibration_data": "train-images",
                        "calibration_samples": 200, "calibration_seed": 0}
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["hwnas.quantization"]) == settings
    assert json.loads(meta["hwnas.input_shape"]) == ["batch", 3, 16, 16]  # the fp32 file's


def test_the_calibration_images_are_training_images_and_change_the_scales(exported):
    from hwnas.data import load_dataset
    from hwnas.tables.export_int8 import (
        Int8Plan,
        calibration_images,
        export_settings,
        quantize_file,
    )

    _, _, out, _ = exported
    data = load_dataset("digits", 16)
    settings = export_settings(INT8, len(data.train_y))
    batches = calibration_images(data.train_x, data.train_y, settings)
    images = np.concatenate(batches)
    assert len(images) == 200 and max(len(b) for b in batches) == 50
    train = data.train_x.numpy().reshape(len(data.train_x), -1)
    rows = {r.tobytes(): i for i, r in enumerate(train)}
    chosen = [rows[x.reshape(-1).tobytes()] for x in images]  # every one a training image
    share = np.bincount(data.train_y.numpy()) / len(data.train_y)
    counts = np.bincount(data.train_y.numpy()[chosen], minlength=10)
    assert np.all(np.abs(counts - 200 * share) < 1)  # stratified: each class its share
    fp32 = out.read_bytes()

    def scales(seed: int, count: int = 200):
        other = export_settings(INT8, len(data.train_y))
        other = other.__class__(**{**other.to_dict(), "calibration_seed": seed,
                                   "calibration_samples": count})
        plan = Int8Plan(other, calibration_images(data.train_x, data.train_y, other),
                        timing_settings=INT8, compared=False, why="test")
        model = onnx.load_from_string(quantize_file(fp32, plan))
        return _activation_scales(model), [s for s, _ in _weight_scales(model)]

    act_a, w_a = scales(0)
    assert act_a == _activation_scales(onnx.load(str(out.with_name("model.int8.onnx"))))
    act_b, w_b = scales(1, 20)
    assert act_a.keys() == act_b.keys() and act_a != act_b  # other images, other ranges
    assert all(np.array_equal(a, b) for a, b in zip(w_a, w_b, strict=True))  # weights' own


def test_int8_and_fp32_accuracy_are_measured_on_the_same_held_out_images(exported):
    from hwnas.data import load_dataset
    from hwnas.nn.onnx_accuracy import onnx_predictions

    _, _, out, report = exported
    acc = report["accuracies"]
    assert acc["onnx"]["images"] == acc["int8"]["images"] == 359
    assert acc["int8"]["fp32_accuracy"] == acc["onnx"]["accuracy"]
    assert "calibrated on 200 training images" in acc["int8"]["what"]
    test = load_dataset("digits", 16)
    x, y = test.test_x.numpy(), test.test_y.numpy()
    int8_file = out.with_name("model.int8.onnx").read_bytes()
    assert int8_file != out.read_bytes()
    assert acc["int8"]["accuracy"] == float(np.mean(onnx_predictions(int8_file, x) == y))
    assert acc["int8"]["accuracy"] > 0.3  # a trained network, not chance, once quantized


def test_an_fp32_table_predicts_the_fp32_file_and_says_it_has_no_int8_prediction(exported):
    run, keys, _, report = exported
    assert report["compared"] == "fp32" and report["predicted_ms"] > 0
    assert report["prediction_error"] == pytest.approx(
        (report["predicted_ms"] - report["measured_ms"]["p50"]) / report["measured_ms"]["p50"])
    int8 = report["int8"]
    assert int8["predicted_ms"] is None and "run's table is fp32" in int8["prediction_note"]
    assert int8["measured_ms"]["p50"] > 0 and int8["measured_dtype"] == "int8"


def test_without_int8_an_fp32_run_exports_as_before(exported, tmp_path, capsys):
    run, keys, _, _ = exported
    code, out, err = cli(capsys, "export", run.path, "--arch", keys[1], "-o",
                         tmp_path / "m.onnx")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.onnx"]
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["int8"] is None and report["compared"] == "fp32"
    assert report["accuracies"]["int8"] is None
    assert "this ONNX file" in out and "int8 ONNX file" not in out
    assert "int8 file:" not in out and "int8 measured" not in out and "fp32 measured" not in out


def test_an_fp32_export_over_an_int8_one_removes_the_stale_int8_file(exported, tmp_path,
                                                                       capsys):
    """Re-exporting without --int8 where an earlier export left `m.int8.onnx`: that file is of
    the earlier network, so it goes (and a file hwnas did not write is left, with a warning)."""
    run, keys, out, _ = exported
    target = tmp_path / "m.onnx"
    shutil.copy(out.with_suffix(".int8.onnx"), tmp_path / "m.int8.onnx")
    code, _, err = cli(capsys, "export", run.path, "--arch", keys[0], "-o", target,
                       "--untrained")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.onnx"]
    report = json.loads((tmp_path / "m.json").read_text())
    assert any("removed" in w and "m.int8.onnx" in w for w in report["warnings"])
    foreign = tmp_path / "m.int8.onnx"
    foreign.write_bytes(b"not hwnas's")
    code, _, err = cli(capsys, "export", run.path, "--arch", keys[0], "-o", target,
                       "--untrained")
    assert code == 0, err
    assert foreign.read_bytes() == b"not hwnas's"
    report = json.loads((tmp_path / "m.json").read_text())
    assert any("not written by this export" in w for w in report["warnings"])


@pytest.mark.parametrize("backend, has", [("torch-cpu", "fp32"), ("ort-cuda", "fp32, fp16")])
def test_int8_on_a_backend_without_it_is_refused_in_one_line(exported, tmp_path, capsys,
                                                              backend, has):
    run, keys, _, _ = exported
    code, out, err = cli(capsys, "export", run.path, "--arch", keys[1], "--int8", "--backend",
                         backend, "-o", tmp_path / "m.onnx")
    line = err.strip()
    assert code == 2 and "\n" not in line, err
    assert (f"--int8: backend '{backend}' has no int8 path (it has {has}); int8 runs on: "
            "ort-cpu") in line and "--int8 --backend ort-cpu`" in line
    assert list(tmp_path.iterdir()) == []


def test_a_table_claiming_training_image_calibration_is_refused():
    from hwnas.errors import BadInputError
    from hwnas.tables.backend_model import table_quantization

    table = LatencyTable(backend="ort-cpu", device={}, dtype="int8",
                         quantization={**INT8.to_dict(), "calibration_data": "train-images"})
    with pytest.raises(BadInputError, match="allowed: random-normal"):
        table_quantization(table)


# -- a search on an int8 table -------------------------------------------------------------
def _int8_table(path) -> LatencyTable:
    """An int8 ort-cpu table of the tiny space (made-up times), as `hwnas profile --dtype
    int8` writes its header."""
    from hwnas.spaces.proxyless import ProxylessSpace

    space = ProxylessSpace(**SPACE)
    entries = {sig.key: {"p50": 0.01, "p90": 0.011, "mean": 0.01, "std": 0.0, "n": 5}
               for sig in space.all_ops()}
    table = LatencyTable(backend="ort-cpu", device={"name": "test"}, threads=1, dtype="int8",
                         space={"name": "proxyless", "config": space.config()},
                         entries=entries, quantization=INT8.to_dict())
    table.save(path)
    return table


def test_a_search_on_an_int8_table_runs_and_its_export_compares_int8_with_int8(tmp_path,
                                                                              capsys):
    table = _int8_table(tmp_path / "int8.json")
    run = tmp_path / "run"
    code, _, err = cli(capsys, "search", "--table", tmp_path / "int8.json", "--space-opt",
                       "resolution=16", "--space-opt", "width_mult=0.25", "--method", "random",
                       "--estimator-opt", "epochs=1", "--estimator-opt", "resolution=16",
                       "--estimator-opt", "train_subset=256", "--budget", "2",
                       "--run-dir", run, "--json")
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["deploy_dtype"] == "int8" and config["table"]["dtype"] == "int8"
    code, printed, _ = cli(capsys, "export", run, "--dry-run")
    assert code == 0 and "int8: an int8 file too (the run's table is int8)" in printed
    code, printed, _ = cli(capsys, "runs", "show", run)
    assert code == 0 and "deploys int8" in " ".join(printed.split())
    # implied, int8 is refused where it would be asked: before anything is written
    code, _, err = cli(capsys, "export", run, "--backend", "torch-cpu", "-o", tmp_path / "x.onnx")
    assert code == 2 and "\n" not in err.strip() and not (tmp_path / "x.onnx").exists()
    assert err.strip().endswith(f"the run's table is int8: backend 'torch-cpu' has no int8 path "
                                f"(it has fp32); int8 runs on: ort-cpu; export with `hwnas "
                                f"export {run} --int8 --backend ort-cpu`")
    out = tmp_path / "m.onnx"
    code, printed, err = cli(capsys, "export", run, "-o", out)  # no --int8: implied
    assert code == 0, err
    assert out.exists() and (tmp_path / "m.int8.onnx").exists()
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["compared"] == "int8" and "the run's table is int8" in report["int8"]["why"]
    from hwnas.arch import Arch
    from hwnas.spaces.proxyless import ProxylessSpace

    arch = Arch.from_dict(report["record"]["arch"])
    predicted = table.predict_ops(ProxylessSpace(**SPACE).ops(arch), "p50")
    assert report["predicted_ms"] == pytest.approx(predicted)
    assert report["int8"]["predicted_ms"] == report["predicted_ms"]
    int8_p50 = report["int8"]["measured_ms"]["p50"]
    assert report["prediction_error"] == pytest.approx((predicted - int8_p50) / int8_p50)
    printed = " ".join(printed.split())  # rich wraps lines at the terminal's width
    assert "int8 measured on ort-cpu" in printed and "table (ort-cpu, int8) predicted" in printed
    # the fp32 file is measured too, and no int8 prediction is missing
    assert report["measured_ms"]["p50"] > 0 and report["int8"]["prediction_note"] is None


def test_an_fp16_table_is_still_refused_for_search(tmp_path, capsys):
    raw = _int8_table(tmp_path / "t.json").to_dict()
    raw.update(dtype="fp16")
    del raw["quantization"]
    (tmp_path / "t.json").write_text(json.dumps(raw))
    code, _, err = cli(capsys, "search", "--table", tmp_path / "t.json", "--space-opt",
                       "resolution=16", "--space-opt", "width_mult=0.25", "--budget", "1",
                       "--run-dir", tmp_path / "run")
    assert code == 2 and "dtype='fp16', not 'fp32'" in err and "or int8 on ort-cpu" in err
    assert not (tmp_path / "run").exists()
