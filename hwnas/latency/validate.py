"""Does a table predict whole networks? Measure random architectures end to end and compare.

Reports MAPE, the share of predictions within +-5% and +-10%, Kendall's tau between predicted
and measured latency, the worst cases, and the noise floor: the same networks re-measured at the
end of the run, which bounds how well any table can do on this device.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from hwnas.errors import BadInputError
from hwnas.latency.profile import make_backend, measure_module
from hwnas.latency.table import LatencyTable
from hwnas.registry import SPACES


@dataclass
class ValidationReport:
    table: str
    backend: str
    device: dict
    samples: int
    seed: int
    arch_keys: list[str] = field(default_factory=list)
    predicted_ms: list[float] = field(default_factory=list)
    measured_ms: list[float] = field(default_factory=list)
    remeasured_ms: list[float] = field(default_factory=list)  # first `noise_samples` networks
    metrics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def accuracy_metrics(predicted, measured) -> dict:
    """MAPE, share within +-5/10%, Kendall tau, worst relative errors (signed)."""
    from scipy.stats import kendalltau

    pred, meas = np.asarray(predicted, float), np.asarray(measured, float)
    rel = (pred - meas) / meas
    tau = kendalltau(pred, meas).statistic if len(pred) > 1 else float("nan")
    worst = np.argsort(-np.abs(rel))[:5]
    return {"mape": float(np.mean(np.abs(rel))), "within_5": float(np.mean(np.abs(rel) <= 0.05)),
            "within_10": float(np.mean(np.abs(rel) <= 0.10)), "kendall_tau": float(tau),
            "median_error": float(np.median(rel)), "worst": [
                {"index": int(i), "predicted_ms": float(pred[i]), "measured_ms": float(meas[i]),
                 "error": float(rel[i])} for i in worst]}


def noise_floor(first, again) -> dict:
    """How much the same network's latency moves between two measurements in one run."""
    a, b = np.asarray(first, float), np.asarray(again, float)
    rel = np.abs(b - a) / a
    return {"n": int(len(a)), "median": float(np.median(rel)) if len(a) else float("nan"),
            "p90": float(np.quantile(rel, 0.9)) if len(a) else float("nan")}


def validate_table(table: LatencyTable, *, samples: int = 100, seed: int = 0,
                   noise_samples: int = 10, progress=None) -> ValidationReport:
    if samples < 2:
        raise BadInputError(f"The 'samples' parameter must be >= 2. Got {samples} instead.")
    if not table.space.get("name"):
        raise BadInputError(f"table {table.path} does not say which space it was made for")
    space = SPACES.get(table.space["name"])(**table.space.get("config", {}))
    backend = make_backend(table.backend, threads=table.threads, batch=table.batch,
                           dtype=table.dtype)
    rng = np.random.default_rng(seed)
    archs, seen = [], set()
    while len(archs) < samples:  # distinct architectures; the space is far larger than N
        arch = space.sample(rng)
        if arch.key not in seen:
            seen.add(arch.key)
            archs.append(arch)
    report = ValidationReport(str(table.path), table.backend, table.device, samples, seed)
    for i, arch in enumerate(archs):
        report.arch_keys.append(arch.key)
        report.predicted_ms.append(table.predict_ops(space.ops(arch)))
        report.measured_ms.append(_measure(backend, space, arch))
        if progress:
            progress({"event": "network", "index": i, "total": samples,
                      "predicted": report.predicted_ms[-1], "measured": report.measured_ms[-1]})
    for arch in archs[:noise_samples]:
        report.remeasured_ms.append(_measure(backend, space, arch))
    report.metrics = {**accuracy_metrics(report.predicted_ms, report.measured_ms),
                      "noise_floor": noise_floor(report.measured_ms[:noise_samples],
                                                 report.remeasured_ms)}
    for worst in report.metrics["worst"]:
        worst["arch_key"] = report.arch_keys[worst["index"]]
    return report


def _measure(backend, space, arch) -> float:
    import torch

    torch.manual_seed(0)
    return measure_module(backend, space.build(arch), space.input_shape).p50
