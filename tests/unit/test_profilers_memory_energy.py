"""profilers/memory.py and energy.py: opt-in peak memory and energy per inference."""

from __future__ import annotations

import io
import math
import os
import time

import pytest

from profilers import BackendUnavailable, Measurement, TimingConfig, energy, get_backend, memory

# Wall-clock assertions: `make test` runs these alone, after the parallel part.
pytestmark = pytest.mark.timing

FAST = TimingConfig(warmup_s=0.01, min_repeats=10, max_repeats=50, time_budget_s=0.1)
CPU_PEAK = memory.cpu_unavailable_reason()


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _conv(channels: int):
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(channels, channels, 3, padding=1),
                               torch.nn.ReLU())


def _onnx_bytes(module, shape) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.onnx.export(module.eval(), torch.randn(1, *shape), buf, dynamo=False,
                      opset_version=17, input_names=["x"], output_names=["y"])
    return buf.getvalue()


def _mb(*shape: int) -> float:
    return math.prod(shape) * 4 / 2**20  # fp32


# --------------------------------------------------------------------------- memory


@pytest.mark.skipif(CPU_PEAK is not None, reason=CPU_PEAK or "")
@pytest.mark.parametrize("name", ["torch-cpu", "ort-cpu"])
def test_cpu_peak_memory_of_bigger_op_is_bigger(name):
    backend = get_backend(name)(threads=1, timing=FAST, measure_memory=True)
    peaks = {}
    for channels, hw in ((8, 16), (64, 56)):
        model = _conv(channels)
        if backend.input_format == "onnx":
            model = _onnx_bytes(model, (channels, hw, hw))
        peaks[channels] = backend.measure(model, (channels, hw, hw)).extra
    small, large = peaks[8]["peak_mem_mb"], peaks[64]["peak_mem_mb"]
    # The large op's input and output (0.77 MB each) are allocated inside the measured call;
    # the small op's are 8 KiB each, so it stays within page and interpreter noise.
    assert large >= 2 * _mb(64, 56, 56) * 0.95
    assert large < 10 * _mb(64, 56, 56)  # no more than a few buffers, not the process
    assert small < 0.5 and large > 4 * small
    if name == "torch-cpu":  # weights apart: 64*64*9 + 64 fp32 parameters
        assert peaks[64]["weights_mb"] == pytest.approx((64 * 64 * 9 + 64) * 4 / 2**20)


def test_memory_is_not_measured_unless_asked():
    pytest.importorskip("torch")
    m = get_backend("torch-cpu")(threads=1, timing=FAST).measure(_conv(8), (8, 16, 16))
    assert "peak_mem_mb" not in m.extra and "energy_mj" not in m.extra
    assert set(m.table_entry()) == {"p0", "p10", "p50", "p90", "mean", "std", "n", "extra"}


def test_cpu_peak_unavailable_reasons_are_one_line(tmp_path):
    no_hwm = tmp_path / "status"
    no_hwm.write_text("Name:\tpython\nVmRSS:\t  1000 kB\n")
    reason = memory.cpu_unavailable_reason(str(no_hwm), memory.CLEAR_REFS)
    assert reason.startswith("memory: ") and "VmHWM" in reason and "\n" not in reason
    hwm = tmp_path / "status2"
    hwm.write_text("VmHWM:\t  2000 kB\nVmRSS:\t  1000 kB\n")
    reason = memory.cpu_unavailable_reason(str(hwm), str(tmp_path / "missing" / "clear_refs"))
    assert reason.startswith("memory: cannot reset the peak RSS") and "\n" not in reason
    assert memory._status_kb("VmHWM", str(hwm)) == 2000


@pytest.mark.parametrize("name", ["ort-cuda", "ort-tensorrt"])
def test_ort_gpu_backends_refuse_memory_in_one_line(name):
    cls = get_backend(name)
    reason = cls.memory_unavailable_reason()
    assert reason.startswith("memory: ") and "torch-cuda" in reason and "\n" not in reason
    if cls.unavailable_reason() is None:
        with pytest.raises(BackendUnavailable, match="memory"):
            cls(measure_memory=True)


def test_cost_options_must_be_bools():
    with pytest.raises(ValueError, match="'measure_memory' parameter of TorchCPU"):
        get_backend("torch-cpu")(measure_memory="yes")
    with pytest.raises(ValueError, match="'measure_energy' parameter of OrtCPU"):
        get_backend("ort-cpu")(measure_energy=1)


def test_table_entry_lifts_measured_costs_and_drops_bad_ones():
    m = Measurement(1.0, 2.0, 1.5, 0.1, 30, extra={"stable": True, "peak_mem_mb": 3.5,
                                                   "energy_mj": float("nan")})
    entry = m.table_entry()
    assert entry["peak_mem_mb"] == 3.5 and "energy_mj" not in entry
    assert entry["extra"] == {"stable": True} and entry["p90"] == 2.0 and entry["n"] == 30


# --------------------------------------------------------------------------- energy


@pytest.mark.skipif(os.path.isdir(energy.POWERCAP), reason="this machine has powercap")
@pytest.mark.parametrize("name", ["torch-cpu", "ort-cpu"])
def test_energy_unavailable_here_gives_one_line_reason(name):
    reason = energy.unavailable_reason("cpu")
    assert reason == (f"energy: RAPL is not exposed here ({energy.POWERCAP} does not exist); "
                      "CPU energy needs Linux powercap (intel_rapl)")
    with pytest.raises(BackendUnavailable) as info:
        get_backend(name)(measure_energy=True)
    assert str(info.value) == f"{name}: {reason}"


def test_gpu_energy_without_pynvml_says_so():
    try:
        import pynvml  # noqa: F401
    except ImportError:
        reason = energy.unavailable_reason("cuda")
        assert "pynvml is not installed" in reason and "hwnas[gpu]" in reason
        assert "\n" not in reason
    else:
        pytest.skip("pynvml is installed")


def test_rapl_delta_handles_one_wrap():
    top = 262_143_328_850  # a typical max_energy_range_uj
    assert energy.rapl_delta_uj(1_000, 5_000, top) == 4_000
    assert energy.rapl_delta_uj(top - 100, 50, top) == 150
    assert energy.rapl_delta_uj(7, 7, top) == 0


def test_rapl_counter_accumulates_across_wraps_with_an_injected_reader():
    reads = iter([900, 990, 20, 500, 980, 10])  # wraps at 1000 twice
    counter = energy.RaplCounter([energy.RaplZone("package-0", lambda: next(reads), 1000)])
    values = [counter.read_mj() for _ in range(5)]
    # deltas 90, 30 (wrap), 480, 480, 30 (wrap) uJ
    assert values == pytest.approx([0.09, 0.12, 0.6, 1.08, 1.11])


def test_rapl_zones_sum_packages_only(tmp_path):
    def zone(name: str, label: str, uj: int, top: int = 10**9) -> None:
        path = tmp_path / name
        path.mkdir()
        (path / "name").write_text(label + "\n")
        (path / "energy_uj").write_text(f"{uj}\n")
        (path / "max_energy_range_uj").write_text(f"{top}\n")

    zone("intel-rapl:0", "package-0", 100)
    zone("intel-rapl:0:0", "core", 50)  # inside package-0
    zone("intel-rapl:1", "package-1", 200)
    zone("intel-rapl:2", "psys", 400)  # contains the packages
    zones = energy.rapl_zones(str(tmp_path))
    assert [z.name for z in zones] == ["intel-rapl:0", "intel-rapl:1"]
    assert energy.rapl_unavailable_reason(str(tmp_path)) is None
    counter = energy.RaplCounter(zones)
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("3100\n")
    (tmp_path / "intel-rapl:1" / "energy_uj").write_text("1200\n")
    assert counter.read_mj() == pytest.approx(4.0)  # (3000 + 1000) uJ


def test_rapl_root_only_counter_is_reported(tmp_path, monkeypatch):
    (tmp_path / "intel-rapl:0").mkdir()
    (tmp_path / "intel-rapl:0" / "name").write_text("package-0\n")

    def denied(path: str) -> int:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(energy, "_read_int", denied)
    reason = energy.rapl_unavailable_reason(str(tmp_path))
    assert "energy_uj is not readable by this user" in reason and "\n" not in reason
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "has no RAPL package zone" in energy.rapl_unavailable_reason(str(empty))


class _FakeClock:
    """Integer microseconds, so step boundaries are hit exactly."""

    def __init__(self) -> None:
        self.us = 0

    def __call__(self) -> float:
        return self.us / 1e6


class _StepCounter:
    """A device drawing ``watts`` whose counter, like NVML's, moves only every ``step_us``."""

    source = "fake"

    def __init__(self, clock: _FakeClock, watts: float, step_us: int) -> None:
        self.clock, self.watts, self.step_us = clock, watts, step_us

    def read_mj(self) -> float:
        stepped_us = self.clock.us // self.step_us * self.step_us
        return self.watts * stepped_us / 1e3  # W * us = uJ; / 1e3 -> mJ


def test_energy_per_call_divides_a_window_of_at_least_a_second():
    clock = _FakeClock()

    def run() -> None:
        clock.us += 2_000  # 2 ms per call

    counter = _StepCounter(clock, watts=20.0, step_us=50_000)
    out = energy.energy_per_call(run, counter, clock=clock)
    assert out["energy_mj"] == pytest.approx(20.0 * 2.0)  # 20 W for 2 ms = 40 mJ
    assert out["energy_window_s"] >= energy.MIN_WINDOW_S
    assert out["energy_calls"] % 25 == 0  # whole counter steps: 25 calls each
    assert out["energy_source"] == "fake"


def test_energy_per_call_through_a_wrapping_rapl_counter():
    clock = _FakeClock()

    def run() -> None:
        clock.us += 1_000

    top, offset = 30_000_000, 25_000_000  # 10 W over ~1 s passes the wrap once

    def read_uj() -> int:
        return (offset + 10 * (clock.us // 1_000 * 1_000)) % top  # 10 W, 1 ms steps

    counter = energy.RaplCounter([energy.RaplZone("package-0", read_uj, top)])
    out = energy.energy_per_call(run, counter, clock=clock)
    assert out["energy_mj"] == pytest.approx(10.0)  # 10 W for 1 ms


def test_a_counter_that_never_moves_is_an_error_not_zero():
    clock = _FakeClock()

    def run() -> None:
        clock.us += 10_000

    frozen = _StepCounter(clock, watts=0.0, step_us=1_000)
    with pytest.raises(BackendUnavailable, match="did not advance"):
        energy.energy_per_call(run, frozen, clock=clock, min_window_s=0.1)


def test_backend_energy_column_with_an_injected_counter(monkeypatch):
    """The backend glue, on a device without counters: a fake 10 W wall-clock meter."""
    pytest.importorskip("torch")

    class WallMeter:
        source = "wall"

        def read_mj(self) -> float:
            return 10.0 * time.perf_counter() * 1e3  # 10 W

    monkeypatch.setattr(energy, "MIN_WINDOW_S", 0.05)
    backend = get_backend("torch-cpu")(threads=1, timing=FAST)
    backend.measure_energy, backend._energy_counter = True, WallMeter()
    m = backend.measure(_conv(32), (32, 32, 32))
    per_call_ms = m.extra["energy_window_s"] / m.extra["energy_calls"] * 1e3
    assert m.extra["energy_mj"] == pytest.approx(10.0 * per_call_ms, rel=0.25)
    assert 0.3 * m.p50 < per_call_ms < 3 * m.p50  # the window ran the op, nothing else
    assert m.table_entry()["energy_mj"] == m.extra["energy_mj"]


# --------------------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs CUDA")
def test_torch_cuda_peak_memory_counts_activations_not_weights():
    backend = get_backend("torch-cuda")(timing=FAST, measure_memory=True)
    small = backend.measure(_conv(8), (8, 16, 16)).extra
    large = backend.measure(_conv(64), (64, 112, 112)).extra
    io_mb = 2 * _mb(64, 112, 112)  # the cloned input and the output, at least
    assert large["peak_mem_mb"] >= io_mb and large["peak_mem_mb"] > 10 * small["peak_mem_mb"]
    assert large["weights_mb"] == pytest.approx((64 * 64 * 9 + 64) * 4 / 2**20)


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs CUDA")
def test_torch_cuda_energy_from_nvml():
    cls = get_backend("torch-cuda")
    if cls.energy_unavailable_reason() is not None:
        pytest.skip(cls.energy_unavailable_reason())
    m = cls(timing=FAST, measure_energy=True).measure(_conv(256), (256, 56, 56))
    # Energy per call over time per call is the board's power; an H100 draws ~50-700 W.
    assert m.extra["energy_window_s"] >= 1.0 and m.extra["energy_source"] == "nvml"
    watts = m.extra["energy_mj"] / (m.extra["energy_window_s"] / m.extra["energy_calls"]) / 1e3
    assert 20 < watts < 1000
