"""Does a table predict whole networks? Measure random architectures end to end and compare;
fit a calibration on other networks (random, and some spanning the latency range).

Reports MAPE, the share of predictions within +-5% and +-10%, Kendall's tau between predicted
and measured latency, the worst cases, and the noise floor: the same networks re-measured at the
end of the run, which bounds how well any table can do on this device.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from hwnas.errors import BadInputError
from hwnas.latency.table import LatencyTable
from hwnas.registry import SPACES
from hwnas.tables.profile import make_backend, measure_module


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


def table_space(table: LatencyTable):
    if not table.space.get("name"):
        raise BadInputError(f"table {table.path} does not say which space it was made for")
    return SPACES.get(table.space["name"])(**table.space.get("config", {}))


def table_backend(table: LatencyTable, allow_mismatch: bool = False):
    """The table's own backend, threads, batch and dtype, on the device the table was made on
    (another device is refused unless allowed: its networks would not match its entries)."""
    from profilers import device_slug

    if table.device.get("source") == "HW-NAS-Bench":
        raise BadInputError(f"table {table.path} holds HW-NAS-Bench's published per-block costs "
                            f"for {table.device.get('device')}, which cannot be measured here; "
                            "validate a table you profiled (`hwnas profile --space fbnet`)")
    backend = make_backend(table.backend, threads=table.threads, batch=table.batch,
                           dtype=table.dtype)
    warnings = table.check_compatible(device_slug=device_slug(backend.fingerprint()),
                                      allow=allow_mismatch)
    return backend, warnings


def sample_archs(space, n: int, seed: int, exclude: set[str] = frozenset()) -> list:
    """`n` distinct random architectures, none of whose keys is in `exclude`."""
    rng = np.random.default_rng(seed)
    archs, seen = [], set(exclude)
    for _ in range(100 * n):
        arch = space.sample(rng)
        if arch.key not in seen:
            seen.add(arch.key)
            archs.append(arch)
            if len(archs) == n:
                return archs
    raise BadInputError(f"could not draw {n} distinct architectures from {space.name}")


def measure_networks(backend, space, archs, progress=None, predict=None) -> list[float]:
    """p50 latency of each whole network, measured end to end on the backend."""
    measured = []
    for i, arch in enumerate(archs):
        measured.append(_measure(backend, space, arch))
        if progress:
            progress({"event": "network", "index": i, "total": len(archs),
                      "measured": measured[-1],
                      "predicted": predict(arch) if predict else float("nan")})
    return measured


def validate_table(table: LatencyTable, *, samples: int = 100, seed: int = 0,
                   noise_samples: int = 10, progress=None,
                   allow_mismatch: bool = False) -> ValidationReport:
    """Held out by construction: architectures the calibration was fitted on are skipped."""
    if samples < 2:
        raise BadInputError(f"The 'samples' parameter must be >= 2. Got {samples} instead.")
    space, (backend, warnings) = table_space(table), table_backend(table, allow_mismatch)
    fitted = set((table.calibration or {}).get("fitted_on", {}).get("arch_keys", []))
    archs = sample_archs(space, samples, seed, exclude=fitted)
    report = ValidationReport(str(table.path), table.backend, table.device, samples, seed)
    report.arch_keys = [a.key for a in archs]
    report.predicted_ms = [table.predict_ops(space.ops(a)) for a in archs]
    report.measured_ms = measure_networks(
        backend, space, archs, progress, predict=lambda a: table.predict_ops(space.ops(a)))
    report.remeasured_ms = measure_networks(backend, space, archs[:noise_samples])
    report.metrics = {**accuracy_metrics(report.predicted_ms, report.measured_ms),
                      "calibrated": bool(table.calibration), "warnings": warnings,
                      "noise_floor": noise_floor(report.measured_ms[:noise_samples],
                                                 report.remeasured_ms)}
    if table.calibration:  # what the plain sum would have scored on the same networks
        plain = [table.predict_ops(space.ops(a), calibrated=False) for a in archs]
        report.metrics["plain_sum"] = {k: v for k, v in accuracy_metrics(
            plain, report.measured_ms).items() if k != "worst"}
    for worst in report.metrics["worst"]:
        worst["arch_key"] = report.arch_keys[worst["index"]]
    return report


def calibrate_table(table: LatencyTable, *, samples: int = 60, seed: int = 1,
                    progress=None, allow_mismatch: bool = False) -> dict:
    """Measure `samples` networks and store a fitted calibration in the table: two thirds
    drawn at random, one third spanning the space's latency range (hwnas.tables.spanning), so
    the fit holds at the cheap and dear ends a search is pushed to, not only in the middle."""
    from hwnas.latency import calibration
    from hwnas.tables.spanning import spanning_archs

    space, (backend, warnings) = table_space(table), table_backend(table, allow_mismatch)
    archs = sample_archs(space, samples - samples // 3, seed)
    archs += spanning_archs(space, lambda a: table.predict_ops(space.ops(a), calibrated=False),
                            samples // 3, seed, exclude={a.key for a in archs})
    if len(archs) < samples:  # walks that ended on networks already drawn: top up at random
        archs += sample_archs(space, samples - len(archs), seed + 1,
                              exclude={a.key for a in archs})
    measured = measure_networks(backend, space, archs, progress,
                                predict=lambda a: table.predict_ops(space.ops(a),
                                                                    calibrated=False))
    networks = [space.ops(a) for a in archs]
    coefficients = calibration.fit(networks, measured, table.entries)
    fitted = [calibration.apply(coefficients, sigs, table.entries, "p50") for sigs in networks]
    plain = [table.predict_ops(sigs, calibrated=False) for sigs in networks]
    coefficients["fitted_on"] = {
        "networks": len(archs), "seed": seed, "arch_keys": [a.key for a in archs],
        "warnings": warnings,
        "fit_metrics": {k: v for k, v in accuracy_metrics(fitted, measured).items()
                        if k != "worst"},
        "plain_sum_metrics": {k: v for k, v in accuracy_metrics(plain, measured).items()
                              if k != "worst"}}
    table.calibration = coefficients
    return coefficients


def _measure(backend, space, arch) -> float:
    import torch

    torch.manual_seed(0)
    return measure_module(backend, space.build(arch), space.input_shape).p50
