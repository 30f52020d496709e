"""`hwnas demo`: profile -> evolution and ProxylessNAS searches -> one front -> final training
-> export, on the embedded default (digits), everything at one resolution."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.markup import escape

from hwnas import api
from hwnas.api import train as train_job
from hwnas.api.presets import preset_values
from hwnas.cli import options
from hwnas.cli.export_cmd import render_export
from hwnas.cli.pareto_cmd import render_report
from hwnas.cli.render import console, progress_bar
from hwnas.cli.search_progress import SearchProgress, result_info
from hwnas.cli.train_cmd import render_training, run_training
from hwnas.quoting import shell_word
from hwnas.registry import ESTIMATORS, STRATEGIES
from hwnas.searching.config import SearchConfig

# One resolution for the table, the searches, the final training and the export: 16x16 (digits
# are 8x8 images, so nothing is lost), what `--preset fast` trains candidates at. The proxy
# trains 2 epochs on a fixed subset: a few minutes on a 2-core CPU.
# Half the default width: digits' ten classes of 8x8 images need no more, and every network
# trains about twice as fast, which keeps `make demo` within its 6 minutes with the install.
DEMO_RESOLUTION = 16
DEMO_SPACE = {"resolution": DEMO_RESOLUTION, "width_mult": 0.5}
DEMO_ESTIMATOR = {**preset_values(ESTIMATORS.get("scratch"), "fast"),  # the demo's preset
                  "resolution": DEMO_RESOLUTION}  # (its resolution already; said, not assumed)
DEMO_EVOLUTION = {"population": 8, "sample_size": 3}
# ProxylessNAS on the same table and data: one derived architecture per latency weight β of
# its mul#log loss (0: accuracy alone; 0.3: the paper's default; 1.2), supernets trained on
# the same 768 images at 16x16 as the candidates.
DEMO_PROXYLESS = {"sweep": "lambda=0,0.3,1.2",
                  **preset_values(STRATEGIES.get("proxyless"), "fast"),
                  "resolution": DEMO_RESOLUTION}
# One thread: on a small shared machine it is the setting whose latency repeats (BENCHMARKS.md).
DEMO_THREADS = 1
DEMO_CALIBRATION = 30
DEMO_RUNS = ("evolution", "proxyless")  # run directories under the demo's folder
DEMO_FINAL = "fast"  # final-training preset (hwnas.api.train.PRESETS): 10 epochs


@click.command()
@click.option("--budget", type=options.budget_type(2), default=16, show_default=True,
              help="Candidates to evaluate.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Demo folder (default: runs/demo-N).")
@options.seed
def demo(budget, out, seed):
    """Run the whole workflow on scikit-learn's digits with the ort-cpu backend.

    \b
    Examples:
      hwnas demo
      hwnas demo --budget 8 --out runs/my-demo
    """
    from hwnas.fileio import check_output

    start = time.perf_counter()
    root = Path(out) if out else _fresh_dir(Path("runs"), "demo")
    # Everything the demo writes is under root: checked now, not after minutes of profiling.
    check_output(root, "--out", folder=True)
    _refuse_earlier_demo(root)
    console.rule("1/6 profile: every distinct op of the proxyless space (width 0.5) on ort-cpu "
                 f"at {DEMO_RESOLUTION}x{DEMO_RESOLUTION}, then calibrate the table on whole "
                 "networks")
    with progress_bar() as bar:
        task = bar.add_task("profiling", total=None, info="")

        def on_op(e: dict) -> None:
            if e["event"] == "machine":  # which statistic the table predicts in, and why
                console.print(e["line"])
                return
            bar.update(task, total=e["total"], completed=e["index"] + 1, info=e["key"])

        table = api.profile("proxyless", dict(DEMO_SPACE), "ort-cpu", threads=DEMO_THREADS,
                            out=root / "latency_table.json", progress=on_op)
        task = bar.add_task("calibrating", total=DEMO_CALIBRATION, info="")
        calibrated = api.calibrate_table(table, samples=DEMO_CALIBRATION,
                                         progress=lambda e: bar.update(
                                             task, total=e["total"], completed=e["index"] + 1))
    fit = calibrated["calibration"]["fitted_on"]
    plain, fitted = fit["plain_sum_metrics"]["within_10"], fit["fit_metrics"]["within_10"]
    console.print(f"table: {table.path} ({len(table.entries)} ops); on {DEMO_CALIBRATION} "
                  f"networks, within ±10%: plain sum {100 * plain:.0f}%, calibrated "
                  f"{100 * fitted:.0f}%")
    verdict = (calibrated.get("kept") or {}).get("verdict")
    if verdict:
        console.print(escape(verdict["line"]))
    console.rule(f"2/6 search: aging evolution, {budget} candidates, scratch-trained on digits")
    evolution = _search(root / DEMO_RUNS[0], "evolution", DEMO_EVOLUTION, table, seed, budget)
    n_settings = len(DEMO_PROXYLESS["sweep"].split(","))
    console.rule(f"3/6 search: ProxylessNAS with the table's E\\[latency] in its loss, "
                 f"{n_settings} latency weights, each derived network scratch-trained")
    proxyless = _search(root / DEMO_RUNS[1], "proxyless", DEMO_PROXYLESS, table, seed, None)
    console.rule("4/6 pareto: accuracy (the search's proxy) vs predicted latency, both "
                 "searches on one front")
    render_report(api.pareto([evolution.path, proxyless.path],
                             plot=root / "pareto_compare.png"))
    console.rule("5/6 train: the knee of evolution's front, fully (augmented, "
                 f"{DEMO_RESOLUTION}x{DEMO_RESOLUTION}), scored on held-out test images")
    planned = train_job.plan(evolution.path, preset=DEMO_FINAL)
    trained = run_training(planned)
    render_training(planned, trained)
    console.rule("6/6 export: that network to ONNX, its accuracy measured through onnxruntime, "
                 "re-timed")
    report, warnings = api.export(evolution.path, arch_key=trained["arch_key"])
    for warning in warnings:
        console.print(escape(f"warning: {warning}"))
    render_export(report)
    onnx = report.accuracies["onnx"]["accuracy"]
    console.print(f"the exported file scores {onnx:.4f} through onnxruntime on "
                  f"{report.accuracies['onnx']['images']} held-out images at {DEMO_RESOLUTION}x"
                  f"{DEMO_RESOLUTION}; hwnas reported {trained['test_accuracy']:.4f} for it "
                  f"({100 * abs(onnx - trained['test_accuracy']):.1f} points apart)")
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s; everything is in {root}")
    console.print(f"next: hwnas train {shell_word(proxyless.path)} --pick \"latency_ms<=X\"")


def _search(run_dir: Path, strategy: str, options: dict, table, seed: int, budget):
    config = SearchConfig(table=str(table.path), space_config=dict(DEMO_SPACE),
                          strategy=strategy, strategy_options=options,
                          estimator_options=DEMO_ESTIMATOR, budget=budget, seed=seed,
                          run_dir=str(run_dir))
    with progress_bar() as bar:
        task = bar.add_task(strategy, total=budget, info="")
        # the search command's bar: drawn at the start, setting and epoch of the sweep
        return api.search(config, progress=SearchProgress(
            bar, task, result_info(config.objectives), echo_epochs=False))


def _refuse_earlier_demo(root: Path) -> None:
    """The demo's searches refuse a run directory that holds a run; say so before profiling."""
    from hwnas.errors import BadInputError

    taken = [name for name in DEMO_RUNS if (root / name / "config.json").exists()]
    if taken:
        raise BadInputError(f"--out {str(root)!r} already holds a demo (runs "
                            f"{', '.join(taken)}); give a new folder, or omit --out for "
                            "runs/demo-N")


def _fresh_dir(parent: Path, stem: str) -> Path:
    n = 1
    while (parent / f"{stem}-{n}").exists():
        n += 1
    return parent / f"{stem}-{n}"
