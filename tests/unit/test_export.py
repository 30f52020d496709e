import numpy as np
import onnxruntime as ort
import pytest

from hwnas.errors import BadInputError
from hwnas.nn.export import export_arch
from hwnas.registry import SPACES


def test_untrained_export_is_input_dependent_and_matches_pytorch(tmp_path):
    """Without trained weights BN statistics are estimated, so the parity check means something:
    a deep untrained nb201 net in eval mode with default statistics returned a constant."""
    space = SPACES.get("nb201")(C=8, N=2, resolution=16)
    arch = space.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|"
                             "nor_conv_3x3~1|nor_conv_3x3~2|")
    report = export_arch(space, arch, tmp_path / "m.onnx", state_dict=None, threads=1)
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
                    backend="torch-cpu")
    assert not (tmp_path / "m.onnx").exists()
