"""`hwnas export`: one candidate of a run to ONNX, checked against PyTorch and re-timed."""

from __future__ import annotations

import click
from rich.markup import escape

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, fmt, print_json
from hwnas.quoting import shell_word


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--pick", multiple=True, help="Constraint such as 'latency_ms<=3' (repeatable); "
              "the most accurate candidate meeting all is exported.")
@click.option("--arch", default=None, help="Architecture key (or unique prefix).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="ONNX path (default: RUN/exports/<key>.onnx).")
@options.backend(help_text="Backend that re-times the exported model (ort-cpu, ort-cuda, "
                 "ort-tensorrt).")
@options.threads
@options.rounds
@options.allow_mismatch
@click.option("--untrained", is_flag=True,
              help="Export a randomly initialised network on purpose (no trained weights "
                   "needed; its accuracy is chance).")
@click.option("--int8", is_flag=True,
              help="Also write the network quantized to int8 beside the file "
                   "(<name>.int8.onnx; static QDQ, per-channel int8 weights, uint8 "
                   "activations, as the run's int8 table was, calibrated on images of the "
                   "training split) and show its accuracy and latency beside the fp32 file's; "
                   "ort-cpu only. Implied for a run searched on an int8 table, whose "
                   "prediction is then compared with the int8 file's re-timing.")
@click.option("--dry-run", is_flag=True,
              help="Print the candidate that would be exported and its objectives; write "
                   "nothing.")
@options.as_json
def export(run, pick, arch, out, backend, threads, rounds, allow_mismatch, untrained, int8,
           dry_run, as_json):
    """Export a candidate (default: the knee of the front) and prove the export.

    Exports only weights trained at the resolution the network is exported and timed at (the
    space's): those of `hwnas train RUN --arch KEY`, or the search's own when it trained at
    that resolution; proxy weights of another resolution are refused (--untrained exports a
    random initialisation on purpose). The file has a dynamic batch axis and metadata (input
    shape, normalisation, class names, architecture, hwnas version, table hash). Shows side by
    side the search's proxy accuracy, the final training's, and the file's own accuracy
    through onnxruntime on the held-out test split (more than 2 points off the one reported
    for its weights fails the export). Warns (also in --json) when the re-timed latency is more
    than 10% off the table's prediction or the measurement is unstable. Where the run's table
    has a reference workload (`hwnas tables calibrate`), the network is timed in --rounds
    passes next to it, as `hwnas tables validate` does, and compared at the table's speed.

    \b
    Examples:
      hwnas export runs/<run> --dry-run                   # what the knee is
      hwnas export runs/<run> --pick "latency_ms<=3" --dry-run
      hwnas train  runs/<run> --pick "latency_ms<=3"      # first: weights at its size
      hwnas export runs/<run> --pick "latency_ms<=3" -o model.onnx
      hwnas export runs/<run> --arch 3f2a --json
      hwnas export runs/<run> --int8 -o model.onnx       # and model.int8.onnx
    """
    from hwnas.api.export import choose, objectives_of
    from hwnas.searching.config import SearchConfig

    check_export_args(run, pick, arch, out, dry_run, int8)
    run_dir, config, record = choose(run, pick=list(pick), arch_key=arch)
    objectives = objectives_of(record, SearchConfig.from_dict(config["search"]).objectives)
    if dry_run:
        payload = {"dry_run": True, "run": str(run_dir.path), "arch_key": record["arch_key"],
                   "arch": record.get("arch_short") or record["arch_str"],
                   "objectives": objectives,
                   "chosen_by": "--arch" if arch else "--pick" if pick else "the knee",
                   "weights": _weights_line(run_dir, config, record, untrained),
                   "int8": _int8_line(config, int8)}
        if as_json:
            print_json(payload)
            return
        console.print(escape(f"would export {record['arch_key']} (chosen by "
                             f"{payload['chosen_by']}): {_objectives_line(objectives)}"))
        console.print(f"  arch: {escape(payload['arch'])}")
        console.print(f"  weights: {escape(payload['weights'])}")
        if payload["int8"]:
            console.print(f"  int8: {escape(payload['int8'])}")
        console.print("  (nothing written; drop --dry-run to export it)")
        return
    report, warnings = api.export(run, pick=list(pick), arch_key=arch, out=out, backend=backend,
                                  threads=threads, allow_mismatch=allow_mismatch,
                                  rounds=rounds, untrained=untrained, int8=int8)
    if as_json:
        print_json({**report.to_dict(), "report": report_path(report), "objectives": objectives,
                    "warnings": warnings})
        return
    for warning in warnings:
        console.print(escape(f"warning: {warning}"))
    render_export(report, objectives)


def _weights_line(run_dir, config: dict, record: dict, untrained: bool) -> str:
    """What a dry run says of the weights: those export would use, or why it would refuse."""
    from hwnas.api.candidate import deploy_weights
    from hwnas.errors import BadInputError

    try:
        return deploy_weights(run_dir, config, record, untrained=untrained).describe()
    except BadInputError as exc:
        return f"none that export accepts yet: {exc}"


def _int8_line(config: dict, int8: bool) -> str | None:
    """What a dry run says of the int8 file: whether one would be written, and why."""
    from hwnas.api import deploy_dtype

    if deploy_dtype.of_run(config) == "int8":
        return ("an int8 file too (the run's table is int8): its re-timing is compared with "
                "the table's prediction")
    return "an int8 file too (--int8); the run's table is fp32: no int8 prediction" \
        if int8 else None


def _objectives_line(objectives: dict) -> str:
    return ", ".join(f"{name} {fmt(value, 4)}" for name, value in objectives.items())


def check_export_args(run: str, pick, arch, out, dry_run: bool = False,
                      int8: bool = False) -> None:
    """Refuse what export would otherwise ignore or find out late: two ways of choosing the
    candidate, a damaged run, an output it cannot write (the ONNX file and its .json report
    beside it, so the file must end in .onnx: `x.json` would be overwritten by the report;
    with int8, `x.int8.onnx` too)."""
    from pathlib import Path

    from hwnas.api import deploy_dtype
    from hwnas.errors import BadInputError
    from hwnas.fileio import check_output
    from hwnas.searching.config import read_run_config
    from hwnas.tables.export import int8_path_for

    if arch and pick:
        raise BadInputError("--arch and --pick both choose the candidate to export; give one: "
                            f"`hwnas export {shell_word(run)} --arch KEY` or "
                            f"`hwnas export {shell_word(run)} --pick "
                            "'latency_ms<=3'`")
    raw = read_run_config(run)
    if dry_run:
        return  # writes nothing, so no output to check
    if out:
        check_output(out, "--out", suffixes=(".onnx",))
        if int8 or deploy_dtype.of_run(raw) == "int8":
            check_output(int8_path_for(Path(out)), "--out (its int8 file)", suffixes=(".onnx",))
    else:
        check_output(Path(run) / "exports", "--out", folder=True, default=True)


def render_export(report, objectives: dict | None = None) -> None:
    m = report.measured_ms
    console.print(f"exported {report.arch_key} to {escape(report.onnx_path)}")
    console.print(f"  report: {escape(report_path(report))} (all of this, with the candidate's "
                  "record and the warnings)")
    console.print(f"  weights: {escape(report.weights)}")
    for line in accuracy_lines(report.accuracies):
        console.print(escape(line))
    if objectives:
        console.print(f"  objectives (from the search): {escape(_objectives_line(objectives))}")
    console.print(f"  arch: {escape(report.arch)}")
    shape = ", ".join(map(str, report.input_shape))
    keys = ", ".join(k.removeprefix("hwnas.") for k in report.metadata)
    console.print(escape(f"  input [{shape}] (batch axis dynamic); metadata: {keys}"))
    console.print(f"  onnx.checker: ok; onnxruntime vs PyTorch max |diff| = "
                  f"{report.max_abs_diff:.2e} (limit {report.tolerance:g})")
    int8 = report.int8
    if int8 is None:
        for line in _timing_lines(report, m, report.at_table_speed, "", True):
            console.print(line)
        return
    console.print(escape(f"  int8 file: {int8['onnx_path']} ({int8['bytes'] / 1024:.0f} KiB, "
                         f"fp32 {int8['fp32_bytes'] / 1024:.0f} KiB); "
                         + ("asked for with --int8" if int8["why"] == "--int8"
                            else int8["why"])))
    for line in _timing_lines(report, m, report.at_table_speed, "fp32 ",
                              report.compared == "fp32"):
        console.print(line)
    for line in _timing_lines(report, int8["measured_ms"], int8["at_table_speed"], "int8 ",
                              report.compared == "int8"):
        console.print(line)
    if int8.get("prediction_note"):
        console.print(escape(f"  {int8['prediction_note']}"))


def _timing_lines(report, m: dict, careful: dict | None, label: str,
                  with_prediction: bool) -> list[str]:
    """One file's measured latency (the table's statistic first), at the table's speed where
    re-timed so, and the table's prediction where it is of this file."""
    stat = report.stat  # the statistic predicted, and so the one compared: named first
    shown = [stat] + [s for s in ("p50", "p90") if s != stat and s in m]
    lines = [f"  {label}measured on {report.measured_backend}: "
             + ", ".join(f"{s} {m[s]:.3f} ms" for s in shown if s in m) + f" (n={m['n']})"]
    if careful:
        change = careful["speed_change"]
        lines.append(f"  {label}at the table's speed ({stat}, median of {careful['rounds']} "
                     f"passes next to its reference workload): {careful['ms']:.3f} ms; the "
                     f"machine runs {100 * abs(change):.0f}% "
                     f"{'slower' if change > 0 else 'faster'} than when the table was measured")
    if with_prediction and report.predicted_ms is not None:
        dtype = f", {report.compared}" if report.int8 is not None else ""
        lines[-1] += (f"; table ({report.table_backend}{dtype}) predicted "
                      f"{report.predicted_ms:.3f} ms ({100 * report.prediction_error:+.1f}%)")
    return lines


def report_path(report) -> str:
    """The JSON report api.export writes beside the ONNX file (x.onnx -> x.json)."""
    from pathlib import Path

    return str(Path(report.onnx_path).with_suffix(".json"))


def accuracy_lines(accuracies: dict | None) -> list[str]:
    """The accuracies side by side, each naming what it is and which images it is on."""
    if not accuracies:
        return []
    out = ["  accuracy:"]
    proxy, final, onnx = accuracies.get("proxy"), accuracies.get("final"), accuracies.get("onnx")
    int8 = accuracies.get("int8")
    if proxy and proxy.get("accuracy") is not None:
        out.append(f"    search's proxy     {proxy['accuracy']:.4f}  validation split; "
                   f"{proxy['what']}")
    if final:
        out.append(f"    final training     {final['accuracy']:.4f}  held-out test split; "
                   f"{final['what']}")
    if onnx:
        out.append(f"    {'fp32 ONNX file' if int8 else 'this ONNX file'}     "
                   f"{onnx['accuracy']:.4f}  held-out test split ({onnx['images']} images); "
                   f"{onnx['what']}")
    if int8:
        out.append(f"    int8 ONNX file     {int8['accuracy']:.4f}  the same "
                   f"{int8['images']} held-out test images; {int8['what']}; it predicts the "
                   f"fp32 file's class on {100 * int8['agreement_with_fp32']:.1f}% of them")
    elif accuracies.get("weights") != "untrained":
        out.append("    this ONNX file     not measured (see the warnings)")
    if accuracies.get("weights") == "untrained":
        out.append("    (untrained weights: the file's accuracy is chance, as asked)")
    return out
