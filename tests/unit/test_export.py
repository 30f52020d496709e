import numpy as np
import onnxruntime as ort
import pytest

from hwnas.errors import BadInputError
from hwnas.registry import SPACES
from hwnas.tables.export import export_arch


def test_untrained_export_is_input_dependent_and_matches_pytorch(tmp_path):
    """Without trained weights BN statistics are estimated, so the parity check means something:
    a deep untrained nb201 net in eval mode with default statistics returned a constant."""
    space = SPACES.get("nb201")(C=8, N=2, resolution=16)
    arch = space.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|"
                             "nor_conv_3x3~1|nor_conv_3x3~2|")
    report = export_arch(space, arch, tmp_path / "m.onnx", state_dict=None, threads=1,
                         weights="untrained (random initialisation)")
    assert report.weights.startswith("untrained") and report.max_abs_diff <= 1e-4
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    outs = [session.run(None, {"input": rng.standard_normal((1, 3, 16, 16), dtype=np.float32)})[0]
            for _ in range(2)]
    assert np.max(np.abs(outs[0] - outs[1])) > 1e-3
    assert report.measured_ms["p50"] > 0 and report.predicted_ms is None


def test_export_re_times_only_on_onnx_backends(tmp_path):
    space = SPACES.get("proxyless")(resolution=16, width_mult=0.25)
    with pytest.raises(BadInputError, match="ort-cpu"):
        export_arch(space, space.default_arch(), tmp_path / "m.onnx", state_dict=None,
                    weights="untrained", backend="torch-cpu")
    assert not (tmp_path / "m.onnx").exists()


def test_the_warning_names_the_time_the_prediction_was_compared_with():
    """Re-timed next to the reference, the error is against the time at the table's speed,
    and the warning says that number, not the single measurement's p50."""
    from hwnas.api.export import timing_warnings
    from hwnas.tables.export import ExportReport

    once = {"p50": 1.158, "p90": 1.2, "mean": 1.16, "std": 0.01, "n": 50}
    careful = {"ms": 0.832, "rounds": 3}
    report = ExportReport("k", "a", "m.onnx", "trained", 0.0, 1e-4, "ort-cpu", once, 1.083,
                          "ort-cpu", careful)
    assert report.prediction_error == pytest.approx((1.083 - 0.832) / 0.832)
    (warning,) = timing_warnings(report)
    assert "+30% off the network's 0.832 ms at the table's speed" in warning
    plain = ExportReport("k", "a", "m.onnx", "trained", 0.0, 1e-4, "ort-cpu", once, 1.083,
                         "ort-cpu")
    assert timing_warnings(plain) == []  # -6.5% against the p50: within 10%
