"""`export()`: one candidate of a run to ONNX, checked against PyTorch and re-timed."""

from __future__ import annotations

from pathlib import Path

from hwnas.api.common import build_space, unique_records
from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.evaluation.failure import is_failed
from hwnas.runs import RunDir
from hwnas.search.config import SearchConfig


def export(run_path: str | Path, *, pick: list[str] | None = None, arch_key: str | None = None,
           out: str | Path | None = None, backend: str = "ort-cpu",
           threads: int | None = None, allow_mismatch: bool = False):
    """Export one candidate of a run to ONNX: checked, parity-tested and re-timed."""
    from hwnas.analysis.picking import pick_record
    from hwnas.fileio import atomic_write_json
    from hwnas.latency.table import LatencyTable  # numpy: loaded when exporting, not at import
    from hwnas.nn.export import export_arch, refuse_non_finite

    run = RunDir.open(run_path)
    config = run.config()
    search_config = SearchConfig.from_dict(config["search"])
    record = pick_record(run, unique_records(run.history()), search_config.objectives,
                         pick=pick, arch_key=arch_key)
    again = f"; pick another candidate with `hwnas pareto {run.path}`"
    if is_failed(record["result"]):  # only a key names one: knee and --pick skip them
        raise BadInputError(f"candidate {record['arch_key']} of run {run.path} failed "
                            f"({record['result']['failed']}): there is no network to "
                            f"export{again}")
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
    report = export_arch(space, arch, out_path, state_dict=state_dict,
                         predicted_ms=predicted, table_backend=table and table.backend,
                         backend=backend,
                         threads=threads if threads is not None else table_threads(config))
    atomic_write_json(out_path.with_suffix(".json"), {**report.to_dict(), "record": record,
                                                      "warnings": warnings})
    return report, warnings


def table_threads(config: dict) -> int | None:
    """Re-time with the thread count the table was measured with, so the two compare."""
    return ((config.get("table") or {}).get("device") or {}).get("threads")
