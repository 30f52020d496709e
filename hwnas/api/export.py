"""`export()`: one candidate of a run to ONNX, with weights of its own resolution, its accuracy
measured through onnxruntime, checked against PyTorch and re-timed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hwnas.api.candidate import (  # noqa: F401 - choose/objectives_of: export's public names
    choose,
    deploy_weights,
    objectives_of,
    proxy_description,
    run_space,
)
from hwnas.arch import Arch
from hwnas.quoting import shell_word
from hwnas.searching.config import SearchConfig

# Beyond these, a re-timing does not confirm the table: the prediction is off by more than
# 10% of the measurement, or the measurement's own spread (p90 over p50) exceeds 10%.
PREDICTION_TOLERANCE = 0.10
SPREAD_TOLERANCE = 0.10


def timing_warnings(report) -> list[str]:
    """What a re-timing says against the table: a prediction off by more than 10%, or a
    measurement too spread to confirm anything (p90 more than 10% above p50)."""
    out = []
    m, careful = report.compared_timing  # of the file the prediction is of (fp32 or int8)
    error = report.prediction_error
    dtype = f"{report.compared} " if report.compared != "fp32" else ""
    if error is not None and abs(error) > PREDICTION_TOLERANCE:
        measured = (f"the {dtype}network's {report.compared_ms:.3f} ms at the table's speed "
                    f"(median of {careful['rounds']} passes next to its reference "
                    "workload)" if careful else
                    f"the {dtype}measured p50 {m['p50']:.3f} ms")
        out.append(f"the table predicted {report.predicted_ms:.3f} ms, {100 * error:+.0f}% off "
                   f"{measured} (more than "
                   f"{100 * PREDICTION_TOLERANCE:.0f}%): calibrate the table (`hwnas tables "
                   "calibrate`) or re-profile on this device")
    spread = (m["p90"] - m["p50"]) / m["p50"] if m.get("p50") and m.get("p90") else 0.0
    if spread > SPREAD_TOLERANCE:
        out.append(f"the {dtype}measurement is unstable: p90 {m['p90']:.3f} ms is "
                   f"{100 * (m['p90'] - m['p50']) / m['p50']:.0f}% above p50 {m['p50']:.3f} ms "
                   "(other load on the machine? pin --threads, or measure again)")
    return out


def export(run_path: str | Path, *, pick: list[str] | None = None, arch_key: str | None = None,
           out: str | Path | None = None, backend: str = "ort-cpu",
           threads: int | None = None, allow_mismatch: bool = False,
           rounds: int | None = None, untrained: bool = False, int8: bool = False):
    """Export one candidate of a run to ONNX with weights trained at the resolution it is
    exported and timed at (hwnas.api.candidate.deploy_weights; `untrained`: a random
    initialisation, on purpose), proven: checker, parity with PyTorch, its own accuracy through
    onnxruntime on the held-out test split, and re-timed. Returns the report and the warnings
    (the table's conditions and identity, then the re-timing's). Where the run's table has a
    reference workload measured under the re-timing's conditions, the network is also timed in
    `rounds` passes next to it, as `hwnas tables validate` times networks, and that is what
    the prediction is compared with.

    `int8`: the file is also quantized to int8 (hwnas.tables.export_int8: the run's int8
    table's settings, else INT8, calibrated on training images) and written beside it,
    scored on the same held-out images and measured. A run searched on an int8 table is an
    int8 deployment (hwnas.api.deploy_dtype): its export does this without being asked, and
    compares the table's prediction with the int8 file's re-timing."""
    from hwnas.api import deploy_dtype
    from hwnas.fileio import atomic_write_json
    from hwnas.latency.identity import table_change_note
    from hwnas.latency.table import LatencyTable  # numpy: loaded when exporting, not at import
    from hwnas.registry import PROFILERS
    from hwnas.tables.export import export_arch, refuse_non_finite, remove_stale_int8
    from hwnas.tables.export_int8 import int8_warnings
    from hwnas.tables.validate import check_rounds

    rounds = check_rounds(rounds)
    PROFILERS.get(backend)  # an unknown name is that, not a table measured on another backend
    run, config, record = choose(run_path, pick=pick, arch_key=arch_key)
    search_config = SearchConfig.from_dict(config["search"])
    deploy = deploy_dtype.of_run(config)
    why_int8 = "--int8" if int8 else (
        "the run's table is int8, so export writes the int8 file too and compares the "
        "table's prediction with its re-timing (as --int8 does)" if deploy == "int8" else None)
    if why_int8:
        check_int8_backend(backend, why_int8, run.path)
    again = f"; pick another candidate with `hwnas pareto {shell_word(run.path)}`"
    space = run_space(config)
    arch = Arch.from_dict(record["arch"])
    weights = deploy_weights(run, config, record, untrained=untrained)  # refusals: nothing written
    if weights.state_dict is not None:  # e.g. a run recorded before divergence failed a candidate
        refuse_non_finite(weights.state_dict, f"the trained weights of candidate {arch.key} of "
                          f"run {run.path}", again)
    predicted, warnings, table, stat = None, [], None, "p50"
    if search_config.table:  # a run on a tabular benchmark has no table to predict with
        table = LatencyTable.load(search_config.table)
        # The prediction is only comparable with the re-timing under the same conditions:
        # export re-times the run's deploy dtype, fp32 or int8 (an fp16 table's prediction
        # would not compare, which `hwnas search` already says of such a table)
        warnings = table.check_compatible(backend=backend, batch=1, dtype=deploy,
                                          allow=allow_mismatch)
        warnings += [n for n in [table_change_note(config)] if n]
        stat = search_config.latency_stat or table.stat
        predicted = table.predict_ops(space.ops(arch), stat)
    evaluation, data, note = _evaluation(search_config.dataset, space, weights)
    warnings += [note] if note else []
    plan = None if why_int8 is None else _int8_plan(table, data, deploy == "int8", why_int8)
    out_path = Path(out) if out else run.path / "exports" / f"{arch.key}.onnx"
    notes: list[str] = []
    report = export_arch(space, arch, out_path, state_dict=weights.state_dict,
                         weights=weights.describe(), predicted_ms=predicted,
                         table_backend=table.backend if table is not None else None,
                         backend=backend,
                         threads=threads if threads is not None else table_threads(config),
                         retime=None if table is None else _retimer(table, rounds, notes),
                         evaluation=evaluation,
                         metadata=_metadata(space, arch, record, data, table, weights),
                         stat=stat, int8=plan)
    warnings = [*warnings, *notes, *timing_warnings(report), *int8_warnings(report.int8)]
    stale = None if report.int8 is not None else remove_stale_int8(Path(report.onnx_path))
    warnings += [stale] if stale else []
    report = dataclasses.replace(report, accuracies=accuracy_summary(config, record, weights,
                                                                      report),
                                 int8=_int8_prediction(report, table))
    atomic_write_json(out_path.with_suffix(".json"), {**report.to_dict(), "record": record,
                                                      "warnings": warnings})
    return report, warnings


def _int8_prediction(report, table) -> dict | None:
    """The int8 file's entry with the table's prediction of it, or why there is none."""
    if report.int8 is None:
        return None
    if report.compared == "int8":
        return {**report.int8, "predicted_ms": report.predicted_ms, "prediction_note": None}
    why = ("the run's table is fp32" if table is not None else "the run has no latency table")
    return {**report.int8, "predicted_ms": None,
            "prediction_note": f"no int8 prediction exists: {why} (a search on an int8 table, "
                               "`hwnas profile --dtype int8`, predicts int8 latency)"}


def check_int8_backend(backend: str, why: str, run_path) -> None:
    """One line, before anything is written, where the re-timing backend has no int8 path."""
    from hwnas.errors import BadInputError
    from hwnas.tables.profile import check_dtype

    try:
        check_dtype(backend, "int8")
    except BadInputError as exc:
        asked = "--int8" if why == "--int8" else "the run's table is int8"
        alone = " (or drop --int8 for the fp32 file alone)" if why == "--int8" else ""
        raise BadInputError(f"{asked}: {exc}; export with `hwnas export "
                            f"{shell_word(run_path)} --int8 --backend ort-cpu`{alone}") from None


def _int8_plan(table, data, compared: bool, why: str):
    """How the int8 file is made (hwnas.tables.export_int8): the int8 table's settings (its
    ops were quantized so, and its prediction is of networks quantized so) or INT8,
    calibrated on images of the dataset's training split at the export's resolution."""
    from hwnas.nn.quantize import INT8
    from hwnas.tables.backend_model import table_quantization
    from hwnas.tables.export_int8 import Int8Plan, calibration_images, export_settings

    base = (table_quantization(table) if table is not None else None) or INT8
    settings = export_settings(base, len(data.train_y))
    return Int8Plan(settings, calibration_images(data.train_x, data.train_y, settings),
                    timing_settings=base, compared=compared, why=why)


def accuracy_summary(config: dict, record: dict, weights, report) -> dict:
    """The accuracies a user compares, each saying what it is: the search's proxy (the
    network the search scored, on the validation split), the final training's (PyTorch, on
    the held-out test split) and the exported file's own (onnxruntime, the same test split)."""
    final = weights.final_metrics or {}
    return {
        "proxy": {"accuracy": record["result"].get("accuracy"), "split": "val",
                  "what": f"the search's estimate ({proxy_description(config, record)})"},
        "final": None if not final else {
            "accuracy": final.get("test_accuracy"), "val_accuracy": final.get("val_accuracy"),
            "split": "test", "what": f"final training, {final.get('epochs')} epochs, PyTorch"},
        "onnx": None if report.onnx_accuracy is None else {
            "accuracy": report.onnx_accuracy["onnx"], "split": report.onnx_accuracy["split"],
            "images": report.onnx_accuracy["images"],
            "what": "the exported file through onnxruntime"},
        "int8": _int8_accuracy(report.int8),
        "weights": weights.source}


def _int8_accuracy(int8: dict | None) -> dict | None:
    """The int8 file's accuracy beside the fp32 file's (the same images, both through
    onnxruntime), saying how it was calibrated."""
    scores = (int8 or {}).get("onnx_accuracy")
    if int8 is None or not scores:
        return None
    q = int8["quantization"]
    return {"accuracy": scores["int8"], "fp32_accuracy": scores["fp32"],
            "agreement_with_fp32": scores["agreement"], "split": scores["split"],
            "images": scores["images"],
            "what": (f"the int8 file through onnxruntime ({q['format']}, per-channel "
                     f"{q['weight_type']} weights, {q['activation_type']} activations, "
                     f"calibrated on {q['calibration_samples']} training images, seed "
                     f"{q['calibration_seed']})")}


def _evaluation(dataset: str, space, weights):
    """The held-out test images at the export's resolution, and the accuracy claimed for
    the weights; (None, None, why) when the run's dataset cannot score this network."""
    from hwnas.data import load_dataset
    from hwnas.tables.export import Evaluation

    resolution = int(space.input_shape[-1])
    data = load_dataset(dataset, resolution)
    if data.num_classes != int(space.num_classes):
        return None, data, (f"the file's accuracy was not measured: dataset {dataset!r} has "
                            f"{data.num_classes} classes, the network {space.num_classes} outputs")
    claimed = (weights.final_metrics or {}).get("test_accuracy")
    return Evaluation(data.test_x, data.test_y, claimed), data, None


def _metadata(space, arch, record, data, table, weights) -> dict[str, str]:
    """What a deployment needs to feed the file and name its outputs, and where it came from."""
    import json
    from importlib.metadata import version

    c, h, w = space.input_shape
    out = {"hwnas.version": version("hwnas"), "hwnas.arch": str(arch),
           "hwnas.arch_key": arch.key, "hwnas.space": space.name,
           "hwnas.space_config": json.dumps(space.config(), sort_keys=True),
           "hwnas.input_shape": json.dumps(["batch", c, h, w]),
           "hwnas.weights": weights.source}
    if record.get("arch_short"):
        out["hwnas.arch_short"] = record["arch_short"]
    if data is not None:
        out["hwnas.class_names"] = json.dumps(list(data.class_names))
        out["hwnas.normalisation"] = json.dumps({
            "pixels": "in [0, 1], resized to the input's height and width (bilinear)",
            "mean": list(data.mean), "std": list(data.std), "formula": "(x - mean) / std"})
    if table is not None:
        out["hwnas.table_hash"] = table.content_hash()
    return out


def _retimer(table, rounds: int, notes: list[str]):
    """The careful re-timing against `table` (hwnas.tables.retime), appending to `notes` why
    it could not be done. How the machine's speed moved since the table's reference is part
    of the result (`speed_change`), shown on the measured line: the prediction is compared
    at the table's speed, so that change decides nothing here and gets no note of its own."""

    def retime(profiler, model, input_shape):
        from hwnas.tables import retime as careful
        from hwnas.tables.validate import table_space

        why_not = careful.reference_usable(table, profiler)
        if why_not:
            notes.append(f"measured once, not normalised: {why_not}")
            return None
        return careful.retime(profiler, table_space(table), model, input_shape, table, rounds)

    return retime


def table_threads(config: dict) -> int | None:
    """Re-time with the thread count the table was measured with, so the two compare."""
    return ((config.get("table") or {}).get("device") or {}).get("threads")
