"""Does a table predict whole networks? Measure random architectures end to end and compare
(the measuring helpers here also serve calibration, hwnas.tables.calibrate).

Reports MAPE, the share of predictions within +-5% and +-10%, Kendall's tau between predicted
and measured latency, the worst cases, and the noise floor and ceiling: the same networks
re-measured at the end of the run (their relative change, and the Kendall tau between the two
measurements), which bound how well any table can do on this device. Networks are timed
interleaved with the table's reference workload and normalised by it (hwnas.latency.drift),
so a machine whose speed moved since the table was measured does not read as a wrong table.
The report names the table it validated by its content hash, and ends in a verdict
(hwnas.tables.verdict).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from hwnas.errors import BadInputError
from hwnas.latency import drift
from hwnas.latency.table import LatencyTable
from hwnas.limits import DEFAULT_ROUNDS, MAX_ROUNDS
from hwnas.registry import SPACES
from hwnas.tables.backend_model import quantization_note
from hwnas.tables.profile import backend_for_table, measure_module


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
    # with a reference workload: measured_ms are normalised; these are the times as measured,
    # and the reference's time next to each network (then each re-measured one)
    measured_raw_ms: list[float] = field(default_factory=list)
    remeasured_raw_ms: list[float] = field(default_factory=list)
    reference_ms: list[float] = field(default_factory=list)
    rounds: int = 1  # passes over the networks; each network's median over them is kept
    table_hash: str = ""  # LatencyTable.content_hash() of the table validated
    stat: str = "p50"  # the statistic predicted and measured (the table's)

    def to_dict(self) -> dict:
        return asdict(self)


# Re-measured networks for the noise floor and ceiling. 30, because Kendall's tau over n
# networks is itself noisy: simulated with a true tau of 0.89, its spread is 0.077 at n=10,
# 0.043 at 20 and 0.032 at 30, so with 10 a ceiling of 0.9 cannot be told from 0.8 and with
# 30 it is known to about +-0.03. 30 re-measurements add 30% to a 100-network validation.
DEFAULT_NOISE_SAMPLES = 30


def check_rounds(rounds=None) -> int:
    """`rounds` checked, None meaning the default; refused in one line before any measuring."""
    if rounds is None:
        return DEFAULT_ROUNDS
    if isinstance(rounds, bool) or not isinstance(rounds, int) \
            or not 1 <= rounds <= MAX_ROUNDS:
        raise BadInputError(f"rounds must be an integer from 1 to {MAX_ROUNDS} (passes over the "
                            f"networks, each network's median kept); got {rounds!r}")
    return rounds


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
    # an int8 table's networks are quantized with the table's own settings (hwnas.nn.quantize)
    backend = backend_for_table(table)
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


def measure_networks(backend, space, archs, progress=None, predict=None,
                     clock=None, stat: str = "p50") -> list[float]:
    """Latency (statistic `stat`, the table's) of each whole network, measured end to end on
    the backend (raw ms). With a
    reference `clock` the reference workload is timed before the first network and after each
    one, and each network's place among them is recorded (`clock.local()` then gives the
    reference time next to each)."""
    measured = []
    if clock is not None and not clock.ref_ms:
        clock.tick()
    for i, arch in enumerate(archs):
        if clock is None:
            measured.append(_measure(backend, space, arch, stat))
        else:
            measured.append(clock.item(lambda arch=arch: _measure(backend, space, arch, stat)))
            clock.tick()
        if progress:
            progress({"event": "network", "index": i, "total": len(archs),
                      "measured": measured[-1],
                      "predicted": predict(arch) if predict else float("nan")})
    return measured


def measure_rounds(backend, space, archs, rounds: int = 1, progress=None, predict=None,
                   clock=None, stat: str = "p50") -> list[list[float]]:
    """`rounds` passes over all of `archs` (raw ms, one list per pass). The passes are spread
    over time on purpose: a burst of load that slows one measurement (seen on shared VMs as
    jumps of 30-70% within a minute, which no reference timed seconds away can follow) hits a
    network in one pass, not in all of them, and the median over passes drops it
    (`per_network`). Progress counts measurements over all passes."""
    n, out = len(archs), []
    for r in range(rounds):
        step = None if progress is None else (
            lambda e, r=r: progress({**e, "index": r * n + e["index"], "total": rounds * n}))
        out.append(measure_networks(backend, space, archs, step, predict, clock=clock,
                                    stat=stat))
    return out


def per_network(passes: list[list[float]]) -> list[float]:
    """The median over passes of each network's time."""
    return [float(v) for v in np.median(np.asarray(passes, float), axis=0)] if passes else []


def _normalised(passes, local, scale: float) -> list[list[float]]:
    """Each pass's times × scale / the reference time next to each measurement (`local`: in
    measurement order, pass after pass)."""
    n = len(passes[0]) if passes else 0
    return [[m * scale / local[r * n + i] for i, m in enumerate(p)]
            for r, p in enumerate(passes)]


NO_REFERENCE = ("the table has no reference workload, so the machine's drift cannot be "
                "checked; `hwnas tables calibrate TABLE` adds one")


def noise_ceiling(first, again, predicted) -> dict:
    """What re-measuring the same networks reaches, which no prediction can be expected to
    beat, next to the prediction on the same networks: the Kendall tau between the two
    measurements (tau depends on the spread of the networks ranked, so both are computed on
    one set), and the share of first measurements within +-10% of the second one — the
    re-measurement used as the prediction, the machine predicting itself."""
    from scipy.stats import kendalltau

    n = len(again)
    if n < 2:
        return {"n": n, "tau_remeasured": float("nan"), "tau_predicted": float("nan"),
                "within_10_remeasured": float("nan"), "within_10_predicted": float("nan")}
    first, again = np.asarray(first[:n], float), np.asarray(again, float)
    predicted = np.asarray(predicted[:n], float)
    return {"n": n, "tau_remeasured": float(kendalltau(first, again).statistic),
            "tau_predicted": float(kendalltau(predicted, first).statistic),
            "within_10_remeasured": float(np.mean(np.abs(again - first) <= 0.1 * first)),
            "within_10_predicted": float(np.mean(np.abs(predicted - first) <= 0.1 * first))}


def _clock(backend, space, table: LatencyTable):
    """A reference clock on the table's reference op; a table without one (profiled before
    references, or imported) gets the op of its space whose entry is the median."""
    from hwnas.tables.reference import ReferenceClock, reference_sig

    sig = reference_sig(table)
    if sig is None:
        ops = sorted((s for s in space.all_ops() if s.key in table.entries),
                     key=lambda s: (table.entries[s.key][table.stat], s.key))
        if not ops:
            return None
        sig = ops[(len(ops) - 1) // 2]
    return ReferenceClock(backend, space, sig, stat=table.stat)


def validate_table(table: LatencyTable, *, samples: int = 100, seed: int = 0,
                   noise_samples: int = DEFAULT_NOISE_SAMPLES, progress=None,
                   allow_mismatch: bool = False, reference: bool = True,
                   rounds: int = DEFAULT_ROUNDS, backend=None) -> ValidationReport:
    """Held out by construction: architectures the calibration was fitted on are skipped.

    With `reference` and a table that stores one, every network is normalised by the
    reference workload timed next to it and expressed in ms at the table's reference speed
    (hwnas.latency.drift); the raw times are kept, and scored too, in the report. Every
    network is timed in `rounds` passes and its median kept (`measure_rounds`); the noise
    floor's networks too, so the floor is that of the numbers compared.
    `backend`: an already made backend (tests pass a fake one)."""
    if samples < 2:
        raise BadInputError(f"The 'samples' parameter must be >= 2. Got {samples} instead.")
    check_rounds(rounds)
    space = table_space(table)
    backend, warnings = (backend, []) if backend is not None else table_backend(table,
                                                                                allow_mismatch)
    fitted = set((table.calibration or {}).get("fitted_on", {}).get("arch_keys", []))
    archs = sample_archs(space, samples, seed, exclude=fitted)
    report = ValidationReport(str(table.path), table.backend, table.device, samples, seed)
    report.arch_keys = [a.key for a in archs]
    report.predicted_ms = [table.predict_ops(space.ops(a)) for a in archs]
    notes = [n for n in (quantization_note(table),) if n]
    clock = _clock(backend, space, table) if reference and table.reference else None
    if reference and not table.reference:
        notes.append(NO_REFERENCE)
    raw_passes = measure_rounds(backend, space, archs, rounds, progress, clock=clock,
                                predict=lambda a: table.predict_ops(space.ops(a)),
                                stat=table.stat)
    again_passes = measure_rounds(backend, space, archs[:noise_samples], rounds, clock=clock,
                                  stat=table.stat)
    raw, again = per_network(raw_passes), per_network(again_passes)
    report.rounds = rounds
    report.stat = table.stat
    report.measured_raw_ms, report.remeasured_raw_ms = raw, again
    report.measured_ms, report.remeasured_ms = list(raw), list(again)
    drift_seen = {}
    if clock is not None:
        target = float(table.reference["ms"])
        local = clock.local()
        report.reference_ms = [float(v) for v in local]
        first = rounds * len(raw)  # the noise floor's passes come after
        report.measured_ms = per_network(_normalised(raw_passes, local[:first], target))
        report.remeasured_ms = per_network(_normalised(again_passes, local[first:], target))
        # how far the machine is from the table's speed: a fact of the drift line, not a
        # note with advice, since every measurement here is normalised by it
        drift_seen = {**clock.drift(), "vs_table": drift.speed_change(target, clock.median_ms())}
    report.metrics = {**accuracy_metrics(report.predicted_ms, report.measured_ms),
                      "calibrated": bool(table.calibration), "warnings": warnings,
                      "notes": notes, "reference": clock is not None, "drift": drift_seen,
                      "noise_floor": noise_floor(report.measured_ms[:noise_samples],
                                                 report.remeasured_ms),
                      "noise_ceiling": noise_ceiling(report.measured_ms, report.remeasured_ms,
                                                     report.predicted_ms)}
    summary = {}
    if clock is not None:  # the same measurements, not normalised: what the reference bought
        summary["raw"] = accuracy_metrics(report.predicted_ms, raw)
    if (table.calibration or {}).get("residual"):  # affine alone, side by side
        summary["affine_only"] = accuracy_metrics(
            [table.predict_ops(space.ops(a), residual=False) for a in archs],
            report.measured_ms)
    if table.calibration:  # what the plain sum would have scored on the same networks
        plain = [table.predict_ops(space.ops(a), calibrated=False) for a in archs]
        summary["plain_sum"] = accuracy_metrics(plain, _at_profile_speed(table, report,
                                                                         clock))
    for name, metrics in summary.items():
        report.metrics[name] = {k: v for k, v in metrics.items() if k != "worst"}
    for worst in report.metrics["worst"]:
        worst["arch_key"] = report.arch_keys[worst["index"]]
    report.metrics["verdict"] = report_verdict(report.metrics, table)
    report.table_hash = table.content_hash()
    return report


def report_verdict(metrics: dict, table: LatencyTable | None = None) -> dict:
    """The verdict (hwnas.tables.verdict) on a validation's metrics: its share within +-10%,
    Kendall tau, and the machine re-measuring itself (when it was re-measured)."""
    from hwnas.tables.verdict import verdict

    ceiling = metrics.get("noise_ceiling") or {}
    repeats = ceiling.get("within_10_remeasured") if (ceiling.get("n") or 0) >= 2 else None
    fitted = ((table.calibration if table else None) or {}).get("fitted_on", {})
    return verdict(metrics["within_10"], metrics["kendall_tau"], repeats,
                   ceiling=ceiling, stat=table.stat if table else "p50",
                   table=str(table.path) if table and table.path else "TABLE",
                   threads=table.threads if table else None,
                   samples=fitted.get("networks"))


def _at_profile_speed(table, report, clock) -> list[float]:
    """Measured networks in ms at the speed the entries were profiled at (a calibration moves
    the table's reference speed, not its entries)."""
    if clock is None:
        return report.measured_ms
    ratio = float(table.reference.get("profiled_ms", table.reference["ms"])) \
        / float(table.reference["ms"])
    return [m * ratio for m in report.measured_ms]


def _measure(backend, space, arch, stat: str = "p50") -> float:
    import torch

    torch.manual_seed(0)
    return measure_module(backend, space.build(arch), space.input_shape).value(stat)
