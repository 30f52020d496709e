"""int8 tables on ort-cpu: ops and whole networks quantized by one function with one set of
settings (hwnas.nn.quantize), carried in the table's header."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from hwnas.errors import BadInputError
from hwnas.latency.table import LatencyTable
from hwnas.nn.quantize import INT8, QuantSettings
from hwnas.tables.backend_model import backend_model, table_quantization

TABLES = Path(__file__).resolve().parents[2] / "latency_tables" / "amd-epyc-2c"
COMMITTED = TABLES / "nb201-ort-cpu-b1-fp32-C16-N5-i3-n10-r32.json"
WEIGHTED = ("Conv", "Gemm", "MatMul")


def _int8_backend(settings: QuantSettings = INT8):
    """What backend_model reads of a backend, without timing anything."""
    return SimpleNamespace(input_format="onnx", dtype="int8", batch=1, quantization=settings)


def _quantized(module, sample_shape, settings: QuantSettings = INT8):
    import onnx
    import torch

    torch.manual_seed(0)
    return onnx.load_from_string(backend_model(_int8_backend(settings), module.eval(),
                                                   sample_shape))


def _forms(model) -> set[tuple]:
    """Per weighted node: its type, what produces its inputs, what reads its output, and
    whether its weight has one scale per output channel (the DequantizeLinear's axis 0 and a
    scale of the weight's first dimension)."""
    from onnx import numpy_helper

    producers = {o: n for n in model.graph.node for o in n.output}
    readers = {i: n for n in model.graph.node for i in n.input}
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    forms = set()
    for node in model.graph.node:
        if node.op_type not in WEIGHTED:
            continue
        data, weight = (producers.get(i) for i in node.input[:2])
        assert data is not None and weight is not None, node.name
        w_scale, q_weight = inits[weight.input[1]], inits[weight.input[0]]
        axis = {a.name: a.i for a in weight.attribute}.get("axis", 1)
        per_channel = w_scale.size == q_weight.shape[0] > 1 and axis == 0
        forms.add((node.op_type, data.op_type, weight.op_type,
                   readers[node.output[0]].op_type, str(q_weight.dtype), per_channel))
    return forms


def test_a_quantized_op_is_qdq_around_its_convs_with_per_channel_weights(tiny_space):
    sig = next(s for s in tiny_space.all_ops() if s.op == "mbconv")
    forms = _forms(_quantized(tiny_space.build_op(sig), (sig.cin, sig.h, sig.w)))
    # every Conv reads a dequantized activation and a dequantized int8 weight with one scale
    # per output channel, and its output is quantized again
    assert forms == {("Conv", "DequantizeLinear", "DequantizeLinear", "QuantizeLinear",
                      "int8", True)}


def test_onnxruntime_fuses_every_conv_of_a_quantized_op_into_int8_kernels(tiny_space, tmp_path):
    # the reason for `preprocess`: without it the exporter's Constant bias left a depthwise
    # Conv in fp32 between DequantizeLinear/QuantizeLinear, i.e. not timed in int8
    import onnx
    import onnxruntime as ort

    sig = next(s for s in tiny_space.all_ops() if s.op == "mbconv")
    model = _quantized(tiny_space.build_op(sig), (sig.cin, sig.h, sig.w))
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    kinds = [n.op_type for n in onnx.load(tmp_path / "optimized.onnx").graph.node]
    assert kinds.count("QLinearConv") == 3 and "Conv" not in kinds


def test_an_op_and_a_whole_network_are_quantized_alike(tiny_space):
    """The same settings give a Conv in the table's op and the same Conv kind in the network
    its calibration and validation time the same QDQ form."""
    arch = tiny_space.default_arch()
    network = _forms(_quantized(tiny_space.build(arch), tiny_space.input_shape))
    ops = set()
    for sig in tiny_space.ops(arch):
        ops |= _forms(_quantized(tiny_space.build_op(sig), (sig.cin, sig.h, sig.w)))
    assert ("Conv", "DequantizeLinear", "DequantizeLinear", "QuantizeLinear", "int8",
            True) in network
    assert network == ops


def test_whole_networks_are_quantized_with_the_tables_own_settings(tiny_space):
    from hwnas.tables.profile import make_backend
    from hwnas.tables.validate import table_backend

    other = QuantSettings(activation_type="int8", calibration_samples=2)
    table = LatencyTable(backend="ort-cpu", dtype="int8", threads=1,
                         device=make_backend("ort-cpu", threads=1, dtype="int8").fingerprint(),
                         space={"name": "proxyless", "config": tiny_space.config()},
                         quantization=other.to_dict())
    backend, _ = table_backend(table)
    assert backend.quantization == other
    model = _quantized(tiny_space.build(tiny_space.default_arch()), tiny_space.input_shape,
                       backend.quantization)
    from onnx import numpy_helper

    zero_points = {numpy_helper.to_array(i).dtype.name for i in model.graph.initializer
                   if i.name.endswith("_zero_point") and "weight" not in i.name}
    assert "int8" in zero_points and "uint8" not in zero_points  # activations as the table says


def test_an_int8_table_round_trips_with_its_settings(tiny_space, tmp_path):
    from hwnas.tables.profile import profile_ops
    from profilers import TimingConfig

    sigs = [s for s in tiny_space.all_ops() if s.op == "stem"][:1]
    table = profile_ops(tiny_space, sigs, "ort-cpu", threads=1, dtype="int8", passes=1,
                        reference=False, timing=TimingConfig(time_budget_s=0.02, min_repeats=3,
                                                                    max_repeats=10))
    again = LatencyTable.load(table.save(tmp_path / "int8.json"))
    assert again.dtype == "int8" and again.device["dtype"] == "int8"
    assert again.quantization == INT8.to_dict() and table_quantization(again) == INT8
    assert again.content_hash() == table.content_hash() and again.entries[sigs[0].key]["p50"] > 0
    # other settings: another table, by its header and its hash
    raw = again.to_dict()
    raw["quantization"] = {**raw["quantization"], "per_channel": False}
    (tmp_path / "other.json").write_text(json.dumps(raw))
    other = LatencyTable.load(tmp_path / "other.json")
    assert table_quantization(other) == dataclasses.replace(INT8, per_channel=False)
    assert other.content_hash() != again.content_hash()


@pytest.mark.parametrize("dtype, quantization, match", [
    ("int8", None, "int8 but has no 'quantization'"),
    ("fp32", INT8.to_dict(), "fp32 but has a 'quantization'"),
])
def test_a_table_whose_dtype_and_quantization_disagree_is_refused(tmp_path, dtype,
                                                                 quantization, match):
    raw = LatencyTable(backend="ort-cpu", device={}, dtype=dtype).to_dict()
    raw["quantization"] = quantization
    (tmp_path / "t.json").write_text(json.dumps(raw))
    with pytest.raises(BadInputError, match=match):
        LatencyTable.load(tmp_path / "t.json")


@pytest.mark.parametrize("change, match", [
    ({"activation_type": "int4"}, "activation_type 'int4' is not allowed; allowed: int8, uint8"),
    ({"format": "QOperator"}, "format 'QOperator' is not allowed; allowed: QDQ"),
    ({"bits": 4}, r"unknown fields \['bits'\]"),
    ({"calibration_samples": 0}, "calibration_samples must be an int >= 1"),
])
def test_settings_this_hwnas_cannot_quantize_with_are_refused_in_one_line(change, match):
    with pytest.raises(BadInputError, match=match) as err:
        QuantSettings.from_dict({**INT8.to_dict(), **change}, "latency table t.json")
    assert "\n" not in str(err.value)


def test_a_committed_fp32_table_still_loads_with_its_hash():
    table = LatencyTable.load(COMMITTED)
    assert table.dtype == "fp32" and table.quantization is None
    assert table_quantization(table) is None and "quantization" not in table.to_dict()
    report = json.loads(COMMITTED.with_suffix(".round0.validation.json").read_text())
    assert table.content_hash() == report["table_hash"]  # written before int8: hash unchanged


def test_int8_on_a_backend_without_it_names_the_backends_that_have_it():
    from hwnas.tables.profile import make_backend

    with pytest.raises(BadInputError) as err:
        make_backend("torch-cpu", dtype="int8")
    assert str(err.value) == ("backend 'torch-cpu' has no int8 path (it has fp32); int8 runs "
                              "on: ort-cpu")


def test_a_bundle_of_int8_ops_is_refused_on_the_device(tmp_path):
    from profilers.bundle import BundleError, make_ort_backend
    from profilers.timing import TimingConfig

    with pytest.raises(BundleError, match="int8 ops cannot be measured"):
        make_ort_backend("ort-cpu", {"batch": 1, "dtype": "int8"}, 1, TimingConfig())


def test_diff_names_the_settings_two_int8_tables_differ_in(tiny_table_path):
    from hwnas.tables.diff import diff_tables

    a = LatencyTable.load(tiny_table_path)
    a.dtype, a.quantization = "int8", INT8.to_dict()
    b = LatencyTable.from_dict({**a.to_dict(), "quantization": {**INT8.to_dict(),
                                                               "calibrate_method": "Entropy"}})
    header = diff_tables(a, b)["header"]
    assert header == {"quantization": {"a": {"calibrate_method": "MinMax"},
                                       "b": {"calibrate_method": "Entropy"}}}
