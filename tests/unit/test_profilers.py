"""profilers/: timing loop, measurements, fingerprints, registry and the backends that run here."""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import profilers
from profilers import (
    BACKENDS,
    BackendUnavailable,
    Measurement,
    TimingConfig,
    collect_samples,
    device_fingerprint,
    device_slug,
    get_backend,
    time_callable,
)

# Wall-clock assertions: `make test` runs these alone, after the parallel part.
pytestmark = pytest.mark.timing

ROOT = Path(__file__).resolve().parents[2]
# Short budgets keep the file fast; the loop logic is the same as with the defaults.
FAST = TimingConfig(warmup_s=0.01, min_repeats=10, max_repeats=100, time_budget_s=0.2)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _replay(values):
    """A sample function returning the given ms values in turn (then repeating the last)."""
    it = itertools.chain(values, itertools.repeat(values[-1]))
    return lambda: next(it)


def _conv(channels: int):
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(channels, channels, 3, padding=1), torch.nn.ReLU()
    )


def _onnx_bytes(module, shape) -> bytes:
    import torch

    buf = io.BytesIO()
    # The legacy exporter: well under a second here, the dynamo one takes seconds.
    torch.onnx.export(module.eval(), torch.randn(1, *shape), buf, dynamo=False,
                      opset_version=17, input_names=["x"], output_names=["y"])
    return buf.getvalue()


# --------------------------------------------------------------------------- timing loop


def test_time_callable_sleep_p50_close_to_sleep():
    m = time_callable(lambda: time.sleep(0.002), config=FAST)
    # sleep() overshoots by tens of microseconds on Linux, never undershoots.
    assert 2.0 <= m.p50 < 2.6
    assert FAST.min_repeats <= m.n <= FAST.max_repeats
    assert m.p90 >= m.p50 >= 0 and m.std >= 0
    assert all(math.isfinite(v) for v in (m.p50, m.p90, m.mean, m.std))


def test_time_callable_calls_sync_after_each_call():
    events = []
    m = time_callable(lambda: events.append("fn"), sync=lambda: events.append("sync"),
                      config=FAST)
    assert events[:4] == ["fn", "sync", "fn", "sync"]
    assert events.count("fn") == events.count("sync") >= FAST.min_warmup_iters + m.n


def test_outlier_spike_is_rejected():
    rng = np.random.default_rng(0)
    values = list(1.0 + 0.01 * rng.standard_normal(40))
    values[FAST.min_warmup_iters + 7] = 50.0  # a preemption spike inside the first round
    cfg = TimingConfig(warmup_s=0.0, min_warmup_iters=FAST.min_warmup_iters, min_repeats=10,
                       max_repeats=40, time_budget_s=10.0, rel_tol=0.0)
    m = collect_samples(_replay(values), cfg)
    assert m.extra["rejected"] == 1
    assert m.n == 39  # 40 taken, the spike dropped
    assert m.mean < 1.05 and m.p90 < 1.05 and m.std < 0.05


def test_frequent_slow_mode_is_kept_not_rejected():
    # 30% of calls take a slow path: a real mode of the latency, not a rare spike.
    values = [1.3 if i % 10 < 3 else 1.0 for i in range(60)]
    cfg = TimingConfig(warmup_s=0.0, min_warmup_iters=1, min_repeats=20, max_repeats=40,
                       time_budget_s=10.0, rel_tol=0.0)
    m = collect_samples(_replay(values), cfg)
    assert m.extra["rejected"] == 0 and m.p90 == pytest.approx(1.3)


def test_constant_samples_stop_after_two_rounds():
    cfg = TimingConfig(warmup_s=0.0, min_repeats=10, max_repeats=200, min_time_s=0.0)
    m = collect_samples(lambda: 1.5, cfg)
    assert (m.n, m.p50, m.p90, m.std, m.extra) == (20, 1.5, 1.5, 0.0,
                                                  {"rejected": 0, "stable": True})


def test_stable_statistic_waits_for_min_time():
    # A minimum that stopped moving after two rounds is not taken as stable before the
    # measurement spans min_time_s: 1 ms calls, 30 ms floor -> about 30 calls, not 20.
    def sample():
        time.sleep(0.001)
        return 1.0

    cfg = TimingConfig(warmup_s=0.0, min_warmup_iters=1, min_repeats=10, max_repeats=1000,
                       time_budget_s=10.0, stat="p0", min_time_s=0.03)
    m = collect_samples(sample, cfg)
    assert m.extra["stable"] is True and 30 <= m.n <= 30 + 10 * 3
    # capped by the budget: a floor above the time budget ends at the budget, not later
    capped = TimingConfig(warmup_s=0.0, min_warmup_iters=1, min_repeats=10, max_repeats=1000,
                          time_budget_s=0.015, stat="p0", min_time_s=5.0)
    assert collect_samples(sample, capped).n < 40


def test_drifting_samples_run_to_max_repeats():
    drift = itertools.count(1.0, 0.05)  # the median keeps moving by more than 2% a round
    cfg = TimingConfig(warmup_s=0.0, min_warmup_iters=1, min_repeats=5, max_repeats=30,
                       time_budget_s=10.0)
    m = collect_samples(lambda: next(drift), cfg)
    assert m.n == 30 and m.extra["stable"] is False


def test_budget_stops_slow_samples_at_min_repeats():
    cfg = TimingConfig(warmup_s=0.0, min_warmup_iters=1, min_repeats=5, max_repeats=200,
                       time_budget_s=0.001, rel_tol=0.0)
    m = time_callable(lambda: time.sleep(0.002), config=cfg)
    assert m.n + m.extra["rejected"] == 5


@pytest.mark.parametrize("kwargs", [
    {"min_repeats": 20, "max_repeats": 10},
    {"min_repeats": 0},
    {"warmup_s": -1.0},
    {"rel_tol": float("nan")},
])
def test_timing_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match="TimingConfig"):
        TimingConfig(**kwargs)


def test_measurement_round_trips_and_validates():
    m = Measurement(p50=1.0, p90=1.5, mean=1.1, std=0.2, n=30, extra={"rejected": 2})
    d = m.to_dict()
    assert d == {"p50": 1.0, "p90": 1.5, "mean": 1.1, "std": 0.2, "n": 30,
                 "extra": {"rejected": 2}}
    assert Measurement.from_dict(json.loads(json.dumps(d))) == m
    assert "extra" not in Measurement(1.0, 1.0, 1.0, 0.0, 1).to_dict()
    with pytest.raises(ValueError, match="finite"):
        Measurement.from_dict({**d, "p90": float("nan")})
    with pytest.raises(ValueError, match="'n'"):
        Measurement.from_dict({**d, "n": 0})
    with pytest.raises(ValueError, match="keys"):
        Measurement.from_dict({"p50": 1.0})
    # the low end, when measured, round-trips and is checked alike
    low = Measurement(1.0, 1.5, 1.1, 0.2, 30, p0=0.8, p10=0.9)
    assert low.to_dict()["p0"] == 0.8 and Measurement.from_dict(low.to_dict()) == low
    with pytest.raises(ValueError, match="finite"):
        Measurement.from_dict({**low.to_dict(), "p0": -1.0})


def test_the_fastest_repetitions_recover_the_cost_a_bursty_neighbour_hides():
    """A fake model of true cost 1 ms (1% jitter) on a machine whose neighbour slows 70% of
    the calls by 1.5-3x: the median reads the neighbour; the minimum and p10 read the model.
    (A neighbour present for every call of a measurement is another matter: no statistic of
    that measurement sees the model, which is why a protocol spreads repetitions over time.)"""
    rng = np.random.default_rng(0)

    def sample() -> float:
        factor = float(rng.uniform(1.5, 3.0)) if rng.random() < 0.7 else 1.0
        return 1.0 * factor * float(rng.uniform(1.0, 1.01))

    m = collect_samples(sample, TimingConfig(warmup_s=0.0, min_warmup_iters=1, min_repeats=40,
                                             max_repeats=40, time_budget_s=10.0))
    assert abs(m.p0 - 1.0) <= 0.02 and abs(m.p10 - 1.0) <= 0.02
    assert m.p50 > 1.2  # the median is the neighbour's


# --------------------------------------------------------------------------- fingerprint


def test_device_fingerprint_describes_this_host():
    fp = device_fingerprint()
    assert fp["logical_cores"] == os.cpu_count()
    assert fp["numpy"] == np.__version__
    assert fp["cpu"] and fp["os"] and fp["python"]
    json.dumps(fp)  # plain data


@pytest.mark.parametrize("fp, slug", [
    ({"cpu": "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", "logical_cores": 2},
     "intel-xeon-platinum-8370c-2c"),
    ({"cpu": "AMD Ryzen 7 5800X 8-Core Processor", "logical_cores": 16}, "amd-ryzen-7-5800x-16c"),
    ({"cpu": "AMD EPYC", "logical_cores": 2, "gpu": "NVIDIA H100 80GB HBM3"},
     "nvidia-h100-80gb-hbm3"),
])
def test_device_slug(fp, slug):
    assert device_slug(fp) == slug


def test_device_slug_of_this_host_is_short_and_stable():
    slug = device_slug(device_fingerprint())
    assert slug == device_slug(device_fingerprint())
    assert len(slug) <= 48 and slug.replace("-", "").isalnum() and slug == slug.lower()


# --------------------------------------------------------------------------- registry


def test_registry_holds_every_backend():
    assert set(BACKENDS) >= {"torch-cpu", "torch-cuda", "ort-cpu", "ort-cuda", "ort-tensorrt"}
    for name, cls in BACKENDS.items():
        assert cls.name == name and get_backend(name) is cls
        assert cls.input_format in ("torch", "onnx") and cls.device_kind in ("cpu", "cuda")


def test_get_backend_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="ort-cpu") as err:
        get_backend("ort-cpo")
    assert "Did you mean 'ort-cpu'" in str(err.value) and "torch-cuda" in str(err.value)


@pytest.mark.parametrize("kwargs", [{"threads": 0}, {"batch": 0}, {"dtype": "fp16"},
                                    {"timing": {"min_repeats": 3}}])
def test_backend_constructor_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match="parameter of TorchCPU"):
        get_backend("torch-cpu")(**kwargs)


def test_input_shape_is_one_sample_and_batch_is_prepended():
    backend = get_backend("torch-cpu")(batch=4)
    assert backend.full_shape((np.int64(3), 8, 8)) == (4, 3, 8, 8)
    for bad in [(), (3, 0, 8), (3.0, 8, 8)]:
        with pytest.raises(ValueError, match="input_shape"):
            backend.full_shape(bad)


def test_importing_profilers_imports_no_hwnas_nor_runtime():
    code = ("import profilers, sys; "
            "bad = [m for m in ('hwnas', 'torch', 'onnxruntime', 'onnx') if m in sys.modules]; "
            "assert not bad, bad")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_probe_model_matches_onnx_helper():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from profilers.ort import PROBE_MODEL

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="")
    model.ir_version = 7
    assert model.SerializeToString() == PROBE_MODEL
    onnx.checker.check_model(onnx.load_from_string(PROBE_MODEL))


# --------------------------------------------------------------------------- backends here


def test_torch_cpu_larger_conv_is_slower_and_state_restored():
    torch = pytest.importorskip("torch")
    backend = get_backend("torch-cpu")(threads=1, timing=FAST)
    small, large = _conv(8), _conv(64)
    small.train()
    threads_before = torch.get_num_threads()
    m_small = backend.measure(small, (8, 16, 16))
    m_large = backend.measure(large, (64, 56, 56))
    assert 0 < m_small.p50 <= m_small.p90 and math.isfinite(m_small.std)
    assert m_large.p50 > 5 * m_small.p50  # ~1400x the FLOPs
    assert torch.get_num_threads() == threads_before and small.training
    fp = backend.fingerprint()
    assert (fp["backend"], fp["threads"], fp["torch"]) == ("torch-cpu", 1, torch.__version__)


def test_ort_cpu_measures_onnx_bytes_of_the_same_module():
    pytest.importorskip("onnxruntime")
    small, large = _conv(8), _conv(64)
    backend = get_backend("ort-cpu")(threads=1, timing=FAST)
    m_small = backend.measure(_onnx_bytes(small, (8, 16, 16)), (8, 16, 16))
    m_large = backend.measure(_onnx_bytes(large, (64, 56, 56)), (64, 56, 56))
    assert 0 < m_small.p50 <= m_small.p90 and m_small.n >= FAST.min_repeats
    assert m_large.p50 > 5 * m_small.p50
    assert backend.fingerprint()["ort_provider"] == "CPUExecutionProvider"


def test_ort_cpu_rejects_wrong_shape_and_non_bytes():
    pytest.importorskip("onnxruntime")
    model = _onnx_bytes(_conv(8), (8, 16, 16))
    backend = get_backend("ort-cpu")(timing=FAST)
    with pytest.raises(ValueError, match="does not fit"):
        backend.measure(model, (8, 32, 32))
    with pytest.raises(ValueError, match="ONNX model bytes"):
        backend.measure(_conv(8), (8, 16, 16))


@pytest.mark.parametrize("name", ["torch-cuda", "ort-cuda", "ort-tensorrt"])
def test_gpu_backends_say_in_one_line_why_they_cannot_run(name):
    cls = get_backend(name)
    reason = cls.unavailable_reason()
    if reason is None:
        pytest.skip(f"{name} can run here")
    assert reason.startswith(f"{name}: ") and "\n" not in reason
    with pytest.raises(BackendUnavailable, match=name):
        cls(timing=FAST).measure(b"" if cls.input_format == "onnx" else None, (8, 16, 16))


def test_cli_info_prints_fingerprint_and_availability():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "profilers", "info", "--backend", "ort-cpu"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["slug"] == device_slug(out["device"])
    assert out["backends"]["ort-cpu"]["available"] is True
    assert list(out["backends"]) == ["ort-cpu"]


# --------------------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_torch_cuda_measures_and_leaves_module_on_cpu(dtype):
    import torch

    backend = get_backend("torch-cuda")(timing=FAST, dtype=dtype)
    small, large = _conv(8), _conv(512)
    m_small = backend.measure(small, (8, 16, 16))
    # A small op on a GPU is bound by launch overhead (~0.05-0.1 ms on an H100 host), so the
    # large one must be big enough (~0.5 TFLOP) to be compute-bound even in fp16.
    m_large = backend.measure(large, (512, 224, 224))
    assert 0 < m_small.p50 <= m_small.p90 and m_small.n >= FAST.min_repeats
    assert m_large.p50 > 3 * m_small.p50
    assert next(small.parameters()).device.type == "cpu"
    assert next(small.parameters()).dtype == torch.float32
    fp = backend.fingerprint()
    assert fp["gpu"] and fp["cuda_runtime"] and fp["dtype"] == dtype
    assert device_slug(fp).startswith("nvidia")


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["ort-cuda", "ort-tensorrt"])
def test_ort_gpu_measures_onnx_bytes(name):
    cls = get_backend(name)
    if cls.unavailable_reason() is not None:
        pytest.skip(cls.unavailable_reason())
    m = cls(timing=FAST).measure(_onnx_bytes(_conv(8), (8, 16, 16)), (8, 16, 16))
    assert 0 < m.p50 <= m.p90 and m.n >= FAST.min_repeats


def test_package_exports():
    assert set(profilers.__all__) >= {"Measurement", "TimingConfig", "time_callable",
                                      "device_fingerprint", "device_slug", "Backend",
                                      "BACKENDS", "BackendUnavailable", "get_backend"}
