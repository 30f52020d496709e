"""`export()`: one candidate of a run to ONNX, checked against PyTorch and re-timed."""

from __future__ import annotations

from pathlib import Path

from hwnas.api.common import build_space, unique_records
from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.evaluation.failure import is_failed
from hwnas.runs import RunDir
from hwnas.search.config import SearchConfig

# Beyond these, a re-timing does not confirm the table: the prediction is off by more than
# 10% of the measurement, or the measurement's own spread (p90 over p50) exceeds 10%.
PREDICTION_TOLERANCE = 0.10
SPREAD_TOLERANCE = 0.10


def choose(run_path: str | Path, *, pick: list[str] | None = None,
           arch_key: str | None = None) -> tuple[RunDir, dict, dict]:
    """The run, its config and the record export would take (the knee, --pick or --arch);
    reads only. What `hwnas export --dry-run` shows."""
    from hwnas.analysis.picking import pick_record

    run = RunDir.open(run_path)
    config = run.config()
    record = pick_record(run, unique_records(run.history()), config["search"]["objectives"],
                         pick=pick, arch_key=arch_key)
    if is_failed(record["result"]):  # only a key names one: knee and --pick skip them
        raise BadInputError(f"candidate {record['arch_key']} of run {run.path} failed "
                            f"({record['result']['failed']}): there is no network to "
                            f"export; pick another candidate with `hwnas pareto {run.path}`")
    return run, config, record


def objectives_of(record: dict, objective_names: list[str]) -> dict:
    """The run's objectives of a record, then params/FLOPs when recorded."""
    result = record["result"]
    names = [*objective_names, *(n for n in ("params", "flops") if n not in objective_names)]
    return {n: result[n] for n in names if n in result}


def timing_warnings(report) -> list[str]:
    """What a re-timing says against the table: a prediction off by more than 10%, or a
    measurement too spread to confirm anything (p90 more than 10% above p50)."""
    out = []
    m = report.measured_ms
    error = report.prediction_error
    if error is not None and abs(error) > PREDICTION_TOLERANCE:
        measured = (f"the network's {report.compared_ms:.3f} ms at the table's speed (median "
                    f"of {report.at_table_speed['rounds']} passes next to its reference "
                    "workload)" if report.at_table_speed else
                    f"the measured p50 {m['p50']:.3f} ms")
        out.append(f"the table predicted {report.predicted_ms:.3f} ms, {100 * error:+.0f}% off "
                   f"{measured} (more than "
                   f"{100 * PREDICTION_TOLERANCE:.0f}%): calibrate the table (`hwnas tables "
                   "calibrate`) or re-profile on this device")
    spread = (m["p90"] - m["p50"]) / m["p50"] if m.get("p50") and m.get("p90") else 0.0
    if spread > SPREAD_TOLERANCE:
        out.append(f"the measurement is unstable: p90 {m['p90']:.3f} ms is "
                   f"{100 * (m['p90'] - m['p50']) / m['p50']:.0f}% above p50 {m['p50']:.3f} ms "
                   "(other load on the machine? pin --threads, or measure again)")
    return out


def export(run_path: str | Path, *, pick: list[str] | None = None, arch_key: str | None = None,
           out: str | Path | None = None, backend: str = "ort-cpu",
           threads: int | None = None, allow_mismatch: bool = False,
           rounds: int | None = None):
    """Export one candidate of a run to ONNX: checked, parity-tested and re-timed. Returns
    the report and the warnings (the table's conditions, then the re-timing's). Where the
    run's table has a reference workload measured under the re-timing's conditions, the
    network is also timed in `rounds` passes next to it, as `hwnas tables validate` times
    networks, and that is what the prediction is compared with."""
    from hwnas.fileio import atomic_write_json
    from hwnas.latency.table import LatencyTable  # numpy: loaded when exporting, not at import
    from hwnas.nn.export import export_arch, refuse_non_finite
    from hwnas.tables.validate import check_rounds

    rounds = check_rounds(rounds)
    run, config, record = choose(run_path, pick=pick, arch_key=arch_key)
    search_config = SearchConfig.from_dict(config["search"])
    again = f"; pick another candidate with `hwnas pareto {run.path}`"
    space = build_space(search_config.space, config["space_resolved"])
    arch = Arch.from_dict(record["arch"])
    state_dict = run.load_weights(arch.key)
    if state_dict is not None:  # e.g. a run recorded before divergence failed a candidate
        refuse_non_finite(state_dict, f"the trained weights of candidate {arch.key} of run "
                          f"{run.path}", again)
    predicted, warnings, table = None, [], None
    if search_config.table:  # a run on a tabular benchmark has no table to predict with
        table = LatencyTable.load(search_config.table)
        # The prediction is only comparable with the re-timing under the same conditions.
        warnings = table.check_compatible(backend=backend, batch=1, allow=allow_mismatch)
        predicted = table.predict_ops(space.ops(arch), search_config.latency_stat)
    out_path = Path(out) if out else run.path / "exports" / f"{arch.key}.onnx"
    notes: list[str] = []
    report = export_arch(space, arch, out_path, state_dict=state_dict,
                         predicted_ms=predicted, table_backend=table and table.backend,
                         backend=backend,
                         threads=threads if threads is not None else table_threads(config),
                         retime=None if table is None else _retimer(table, rounds, notes))
    warnings = [*warnings, *notes, *timing_warnings(report)]
    atomic_write_json(out_path.with_suffix(".json"), {**report.to_dict(), "record": record,
                                                      "warnings": warnings})
    return report, warnings


def _retimer(table, rounds: int, notes: list[str]):
    """The careful re-timing against `table` (hwnas.tables.retime), appending to `notes` why
    it could not be done, or how the machine's speed moved since the table's reference."""

    def retime(profiler, model, input_shape):
        from hwnas.latency import drift
        from hwnas.tables import retime as careful
        from hwnas.tables.validate import table_space

        why_not = careful.reference_usable(table, profiler)
        if why_not:
            notes.append(f"measured once, not normalised: {why_not}")
            return None
        result = careful.retime(profiler, table_space(table), model, input_shape, table, rounds)
        moved = drift.speed_message(table.path or "the table", result["table_reference_ms"],
                                    result["reference_now_ms"], action="the prediction is "
                                    "compared with the network's time at the table's speed, "
                                    "the raw time is shown beside it")
        notes.extend([moved] if moved else [])
        return result

    return retime


def table_threads(config: dict) -> int | None:
    """Re-time with the thread count the table was measured with, so the two compare."""
    return ((config.get("table") or {}).get("device") or {}).get("threads")
