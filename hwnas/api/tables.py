"""Latency-table jobs: show, diff, fill, import, calibrate, validate.

Plain arguments in, data out, nothing rendered. A table argument is a path or an already loaded
`LatencyTable` (a UI that loaded it to name its backend in a progress bar need not load it
twice). Jobs that measure (fill, calibrate, validate) take a `progress` callback called with one
dict per network or op measured, and import the measuring code (torch, onnxruntime) only when
called.
"""

from __future__ import annotations

from pathlib import Path

from hwnas.api.common import Progress, check_latency_stat, validation_path
from hwnas.errors import BadInputError
from hwnas.fileio import check_output, json_ready
from hwnas.latency.table import LatencyTable

FBNET_FORMAT = "hwnas-bench-fbnet"
IMPORT_FORMATS = ("auto", FBNET_FORMAT)
TableArg = str | Path | LatencyTable


def _load(table: TableArg) -> LatencyTable:
    return table if isinstance(table, LatencyTable) else LatencyTable.load(table)


def _source(table: TableArg, loaded: LatencyTable, job: str) -> str | Path:
    """The file a job writes back to or beside: the path as given, or the table's own."""
    path = loaded.path if isinstance(table, LatencyTable) else table
    if path is None:
        raise BadInputError(f"{job} needs a table loaded from a file, to write beside it")
    return path


def show_table(table: TableArg) -> LatencyTable:
    """The table, checked by the loader (schema, units, finite entries)."""
    return _load(table)


def diff_tables(a: TableArg, b: TableArg, stat: str = "p50") -> dict:
    """How B differs from A: `stat` ratios B/A on common keys, keys on one side only, header."""
    from hwnas.tables.diff import diff_tables as diff

    return diff(_load(a), _load(b), stat)


def plan_fill(table: TableArg, allow_other_device: bool = False) -> dict:
    """What `fill_table` would measure, checked before anything runs: {"table", "space",
    "missing": [OpSignature], "warning"}; refuses another device unless allowed."""
    from hwnas.tables.fill import plan_fill as plan

    t = _load(table)
    return {"table": t, **plan(t, allow_other_device)}


def fill_table(table: TableArg, *, allow_other_device: bool = False, progress: Progress = None,
               plan: dict | None = None) -> dict:
    """Measure the ops the table's space has and it lacks, on its own backend, and save it in
    place; `plan` is `plan_fill`'s answer when the caller already has it."""
    from hwnas.tables.fill import fill_table as fill

    plan = plan or plan_fill(table, allow_other_device)
    if plan["missing"]:  # written back in place: refused before measuring, not after
        check_output(_source(table, plan["table"], "fill_table"), "TABLE")
    return fill(plan["table"], progress=progress, plan=plan)


def import_table(file: str | Path, *, format: str = "auto", metric: str | None = None,
                 setting: str | None = None, out: str | Path | None = None,
                 tables_dir: str | Path = "latency_tables", space: str | None = None,
                 space_config: dict | None = None, backend: str = "external",
                 device: str | None = None, device_kind: str = "cpu",
                 force: bool = False) -> dict:
    """Write a table made elsewhere into `tables_dir/<device>/` (or `out`); returns a report.

    `format` "auto" reads a hwnas JSON or a ProxylessNAS/OFA YAML by content, and a folder or
    .csv as HW-NAS-Bench's FBNet lookup CSV (`hwnas-bench-fbnet`, which takes `metric` and
    `setting`; `space`, `space_config`, `backend`, `device`, `device_kind` are YAML only).
    """
    if format not in IMPORT_FORMATS:
        raise BadInputError(f"unknown import format {format!r}; allowed: "
                            f"{', '.join(IMPORT_FORMATS)}")
    path = Path(file)
    if format == "auto" and (_is_dir(path) or path.suffix.lower() == ".csv"):
        format = FBNET_FORMAT  # neither JSON nor YAML: HW-NAS-Bench's CSV is the one left
    if format == FBNET_FORMAT:
        _refuse_yaml_only(space, space_config, backend, device, device_kind)
        return _import_fbnet(path, metric, setting, out, tables_dir, force)
    if metric or setting:
        raise BadInputError(f"--metric/--setting apply only to --format {FBNET_FORMAT} "
                            f"(HW-NAS-Bench's FBNet lookup CSV); {file} is read as a hwnas "
                            "JSON or ProxylessNAS/OFA YAML table")
    if space_config and not space:
        raise BadInputError("--space-opt needs --space, e.g. --space proxyless "
                            "--space-opt resolution=224")
    from hwnas.tables.imports import import_table as import_other

    return import_other(file, out=out, tables_dir=tables_dir, space=space,
                        space_config=space_config, backend=backend, device=device,
                        device_kind=device_kind, force=force)


def _is_dir(path: Path) -> bool:
    """Path.is_dir, without the OSError of a name too long (the reader then says why)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _refuse_yaml_only(space, space_config, backend, device, device_kind) -> None:
    yaml_only = [name for name, given in (("--space", space), ("--space-opt", space_config),
                                          ("--backend", backend != "external"),
                                          ("--device", device),
                                          ("--device-kind", device_kind != "cpu")) if given]
    if yaml_only:
        verb = "does" if len(yaml_only) == 1 else "do"
        raise BadInputError(f"{', '.join(yaml_only)} {verb} not apply to --format "
                            f"{FBNET_FORMAT} (space fbnet, device from --metric); drop them, "
                            f"e.g. `hwnas tables import FOLDER --format {FBNET_FORMAT} "
                            "--metric pixel3_latency --setting cifar100`")


def _import_fbnet(path, metric, setting, out, tables_dir, force) -> dict:
    from hwnas.tables.hwnasbench import LATENCY_METRICS, import_fbnet

    if not metric:
        raise BadInputError(f"--format {FBNET_FORMAT} needs --metric, one of "
                            f"{', '.join(LATENCY_METRICS)}, e.g. --metric pixel3_latency")
    return import_fbnet(path, metric, setting or "cifar100", out=out, tables_dir=tables_dir,
                        force=force)


def calibrate_table(table: TableArg, *, samples: int = 60, seed: int = 1,
                    allow_mismatch: bool = False, progress: Progress = None,
                    out: str | Path | None = None, reference: bool = True,
                    residual_model: str | None = None, rounds: int | None = None,
                    stat: str | None = None) -> dict:
    """Measure networks (random, a third spanning the latency range), fit the table's
    correction (affine, then a residual model chosen by cross-validation), keep whichever of
    it, the table's previous calibration and the plain sum predicts them best, and save the
    table in its own file, or in `out`.

    Returns {"table": path, "calibration": what the table now holds, "fit": the new fit (with
    what it was fitted on), "kept": which was kept, why, and the verdict, "reference": the
    table's reference workload, "hash": the table's new content hash, "stale_validation":
    the validation report beside the written table, now of another table (None if none)}.
    `stat`: calibrate for this latency statistic (default: the table's; another switches
    the table to it)."""
    from hwnas.latency.residual import CANDIDATES
    from hwnas.tables.calibrate import calibrate_table as calibrate
    from hwnas.tables.validate import check_rounds

    if residual_model is not None and residual_model not in CANDIDATES:
        raise BadInputError(f"unknown residual model {residual_model!r}; allowed: "
                            f"{', '.join(CANDIDATES)}")
    rounds = check_rounds(rounds)  # before minutes of measuring
    t = _load(table)
    check_latency_stat(stat)  # a statistic a table can be in (not mean or std)
    t.check_stat(stat, calibrated=False)  # entries that hold it, before minutes of measuring
    source = _source(table, t, "calibrate_table")
    given, path = out, Path(out) if out else Path(source)
    # the fit is written into it: refused before minutes of measuring
    if given:
        check_output(path, "--out", suffixes=(".json",))
    else:
        check_output(path, "TABLE")
    before = t.content_hash() if Path(path) == Path(source) else None
    result = calibrate(t, samples=samples, seed=seed, allow_mismatch=allow_mismatch,
                       progress=progress, reference=reference, residual_model=residual_model,
                       rounds=rounds, stat=stat)
    t.save(path)
    report, now = validation_path(path), t.content_hash()
    stale = report.is_file() and now != before
    return {"table": str(path), **result, "reference": t.reference, "hash": now,
            "stale_validation": str(report) if stale else None}


def validate_table(table: TableArg, *, samples: int = 100, seed: int = 0,
                   noise_samples: int | None = None, out: str | Path | None = None,
                   allow_mismatch: bool = False, progress: Progress = None,
                   reference: bool = True, rounds: int | None = None) -> dict:
    """Measure random whole networks against the table's predictions; writes the report
    (default: beside the table, <table>.validation.json) and a scatter plot beside it.

    Returns the report's fields (predictions, measurements, metrics) with "report" and "plot"
    paths. `reference`: normalise by the table's reference workload (when it has one)."""
    from hwnas.analysis.plots import plot_prediction_scatter
    from hwnas.fileio import atomic_write_json
    from hwnas.tables.validate import DEFAULT_NOISE_SAMPLES, check_rounds
    from hwnas.tables.validate import validate_table as validate

    rounds = check_rounds(rounds)
    t = _load(table)
    source = Path(_source(table, t, "validate_table"))
    given, out = out, Path(out) if out else validation_path(source)
    # The report and its plot beside it, both checked before minutes of measuring.
    check_output(out, "--out", suffixes=(".json",), default=not given)
    check_output(out.with_suffix(".png"), "--out", default=not given)
    noise_samples = DEFAULT_NOISE_SAMPLES if noise_samples is None else noise_samples
    report = validate(t, samples=samples, seed=seed, noise_samples=noise_samples,
                      allow_mismatch=allow_mismatch, progress=progress, reference=reference,
                      rounds=rounds)
    m = report.metrics
    title = (f"{source.name}\n{t.backend}: {100 * m['within_10']:.0f}% within ±10%, "
             f"τ={m['kendall_tau']:.3f}, MAPE {100 * m['mape']:.1f}%")
    plot = plot_prediction_scatter(report.predicted_ms, report.measured_ms, title,
                                   out.with_suffix(".png"))
    # JSON has no NaN: a noise floor of no re-measured network, a tau of equal predictions
    atomic_write_json(out, json_ready({**report.to_dict(), "plot": str(plot)}))
    return {**report.to_dict(), "report": str(out), "plot": str(plot)}


def table_speed_note(table: TableArg, limits=(), threshold: float | None = None,
                     backend=None) -> str | None:
    """One line when a search's absolute latency `limits` ([(flag, values)]) hold a table
    whose machine's speed moved more than `threshold` since its reference workload was timed
    (a quick measurement of it now; default: 10%, or the table's own error where larger),
    else None (hwnas.latency.drift.limit_message). Without limits nothing is measured. A
    table without a reference (older, imported, or another device's) says nothing: its speed
    cannot be checked."""
    from hwnas.latency import drift
    from hwnas.tables.reference import quick_reference_ms, reference_sig
    from hwnas.tables.validate import table_space

    if not limits:
        return None
    t = _load(table)
    sig = reference_sig(t)
    if sig is None or t.reference is None:  # no reference workload was timed with the table
        return None
    if backend is None:
        from hwnas.tables.profile import backend_for_table
        from profilers import device_slug

        backend = backend_for_table(t)
        if device_slug(backend.fingerprint()) != device_slug(t.device):
            return None  # another device: the mismatch check already says what that risks
    now = quick_reference_ms(backend, table_space(t), sig, t.stat)
    if threshold is None:
        threshold = max(drift.THRESHOLD, own_error(t))
    return drift.limit_message(str(t.path or "the table"), float(t.reference["ms"]), now,
                               limits, threshold)


def own_error(table: LatencyTable) -> float:
    """The table's mean relative error on the networks its calibration was scored on (the
    kept fit's, cross-validated where it was), 0 when it records none: a speed change within
    it moves no prediction further than the table already is."""
    cal = table.calibration or {}
    kept = cal.get("kept") or {}
    score = (kept.get("scores") or {}).get(kept.get("kept")) or \
        (cal.get("fitted_on") or {}).get("fit_metrics") or {}
    mape = score.get("mape")
    return float(mape) if isinstance(mape, (int, float)) else 0.0
