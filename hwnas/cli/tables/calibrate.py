"""`hwnas tables calibrate`: fit the table's correction on measured whole networks."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, print_json, progress_bar


@click.command()
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--samples", type=click.IntRange(min=4), default=60, show_default=True,
              help="Whole networks to measure and fit on (a third spanning the latency range).")
@click.option("--seed", type=options.SEED, default=1, show_default=True,
              help="Seed of the fitting networks (validation skips them whatever its seed).")
@options.allow_mismatch
@options.as_json
def calibrate(table, samples, seed, allow_mismatch, as_json):
    """Measure whole networks (random, and a third spanning the latency range), fit intercept
    + per-op-type scales, store them in TABLE."""
    t = api.show_table(table)  # for the bar's title (a bad file is refused before it)
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task(f"calibrating on {t.backend}", total=samples, info="")

        def on_network(event: dict) -> None:
            bar.update(task, completed=event["index"] + 1,
                       info=f"sum {event['predicted']:.3f} meas {event['measured']:.3f}")

        result = api.calibrate_table(table, samples=samples, seed=seed,
                                     allow_mismatch=allow_mismatch, progress=on_network)
    if as_json:
        print_json(result)
        return
    coefficients = result["calibration"]
    fit = coefficients["fitted_on"]
    for warning in fit.get("warnings", []):
        console.print(f"warning: {warning}")
    scales = ", ".join(f"{k} x{v:.3f}" for k, v in coefficients["scales"].items())
    console.print(f"calibrated {table} on {fit['networks']} networks: intercept "
                  f"{coefficients['intercept_ms']:+.4f} ms, per op "
                  f"{coefficients['per_op_ms']:+.4f} ms, {scales}")
    before, after = fit["plain_sum_metrics"]["within_10"], fit["fit_metrics"]["within_10"]
    console.print(f"on the fitting networks: within ±10% {100 * before:.0f}% -> "
                  f"{100 * after:.0f}% (plain sum -> calibrated); "
                  f"validate on held-out networks with `hwnas tables validate {table}`")
