"""`hwnas tables calibrate`: fit the table's correction on measured whole networks."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, print_json, progress_bar
from hwnas.latency.drift import describe_drift
from hwnas.latency.residual import CANDIDATES
from hwnas.quoting import shell_word


@click.command()
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--samples", type=click.IntRange(min=4), default=60, show_default=True,
              help="Whole networks to measure and fit on (a third spanning the latency range).")
@click.option("--seed", type=options.SEED, default=1, show_default=True,
              help="Seed of the fitting networks (validation skips them whatever its seed).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the calibrated table here (a .json) instead of back into TABLE.")
@click.option("--no-reference", "no_reference", is_flag=True,
              help="Do not time the reference workload between networks (the machine's drift "
                   "is then neither measured nor removed).")
@click.option("--residual-model", type=click.Choice(CANDIDATES), default=None,
              help="Force the whole-network residual model (default: the one that "
                   "cross-validates best on the fitting networks, 'none' included).")
@click.option("--latency-stat", type=click.Choice(["p0", "p10", "p50", "p90"]), default=None,
              help="Calibrate for this statistic (default: the table's own). Another one "
                   "switches the table to it: networks are measured, fitted and predicted in "
                   "it from then on.")
@options.rounds
@options.allow_mismatch
@options.as_json
def calibrate(table, samples, seed, out, no_reference, residual_model, latency_stat, rounds,
              allow_mismatch, as_json):
    """Measure whole networks (random, and a third spanning the latency range), fit intercept
    + per-op-type scales and a residual model of whole networks, no network of the space
    predicted below a fitted share of its ops' plain sum. TABLE (or --out) keeps whichever of
    the new fit, its previous calibration and the plain sum predicts the networks best
    (cross-validated), and the last line says whether to trust it. The networks are timed
    interleaved with the table's reference workload; a kept new fit re-anchors the table at
    the speed the machine has now.

    \b
    Examples:
      hwnas tables calibrate TABLE --samples 60
      hwnas tables calibrate TABLE --out calibrated.json --residual-model none
    """
    t = api.show_table(table)  # for the bar's title (a bad file is refused before it)
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task(f"calibrating on {t.backend}", total=samples * rounds, info="")

        def on_network(event: dict) -> None:
            bar.update(task, completed=event["index"] + 1,
                       info=f"sum {event['predicted']:.3f} meas {event['measured']:.3f}")

        result = api.calibrate_table(table, samples=samples, seed=seed,
                                     allow_mismatch=allow_mismatch, progress=on_network,
                                     out=out, reference=not no_reference,
                                     residual_model=residual_model, rounds=rounds,
                                     stat=latency_stat)
    if as_json:
        print_json(api.json_ready(result))
        return
    coefficients = result["fit"]
    fit = coefficients["fitted_on"]
    for warning in fit.get("warnings", []):
        console.print(f"warning: {warning}")
    for note in fit.get("notes", []):
        console.print(f"note: {note}")
    if fit.get("drift"):
        console.print(describe_drift(fit["drift"]))
    scales = ", ".join(f"{k} x{v:.3f}" for k, v in coefficients["scales"].items())
    written = result["table"]
    held = coefficients.get("floor_constraints")
    console.print(f"fitted on {fit['networks']} networks: intercept "
                  f"{coefficients['intercept_ms']:+.4f} ms, per op "
                  f"{coefficients['per_op_ms']:+.4f} ms, {scales}; no network below "
                  f"{coefficients['floor_share']:.2f} x its plain sum"
                  + (f" ({held} network(s) of the space held there)" if held else ""))
    selection = fit["residual_selection"]
    if selection.get("cv"):
        scores = ", ".join(f"{name} {100 * s['cv_mean_abs_log_error']:.2f}%"
                           for name, s in selection["cv"].items())
        console.print(f"residual model: {selection['chosen']} (cross-validated mean abs "
                      f"error: {scores})")
    else:
        console.print(f"residual model: none ({selection.get('reason', 'not fitted')})")
    before, affine = fit["plain_sum_metrics"]["within_10"], fit["affine_fit_metrics"]["within_10"]
    after = fit["fit_metrics"]["within_10"]
    console.print(f"on the fitting networks: within ±10% {100 * before:.0f}% -> "
                  f"{100 * affine:.0f}% -> {100 * after:.0f}% (plain sum -> affine -> with "
                  "residual)")
    kept = result["kept"]
    console.print(kept["why"])
    stale = (f"; {result['stale_validation']} beside it validated the table as it was and is "
             f"now stale: re-run `hwnas tables validate {shell_word(written)}`"
             if result.get("stale_validation") else
             f"; validate on held-out networks with `hwnas tables validate {shell_word(written)}`")
    console.print(f"wrote {written}, table hash now {result['hash'][:12]}{stale}")
    console.print(kept["verdict"]["line"])
