"""`hwnas tables validate`: measure random whole networks and compare with the table."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, print_json, progress_bar

TABLE = click.Path(dir_okay=False)


@click.command()
@click.argument("table", type=TABLE)
@click.option("--samples", type=click.IntRange(min=2), default=100, show_default=True,
              help="Random whole networks to measure.")
@options.seed
@click.option("--noise-samples", type=click.IntRange(min=0), default=10, show_default=True,
              help="Networks re-measured at the end to estimate the noise floor.")
@click.option("--out", type=TABLE, default=None,
              help="Report JSON (default: beside the table, <table>.validation.json).")
@options.allow_mismatch
@options.as_json
def validate(table, samples, seed, noise_samples, out, allow_mismatch, as_json):
    """Measure random whole networks and compare with the table's predictions."""
    t = api.show_table(table)  # for the bar's title (a bad file is refused before it)
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task(f"validating on {t.backend}", total=samples, info="")
        report = api.validate_table(
            table, samples=samples, seed=seed, noise_samples=noise_samples, out=out,
            allow_mismatch=allow_mismatch,
            progress=lambda e: bar.update(
                task, completed=e["index"] + 1,
                info=f"pred {e['predicted']:.3f} meas {e['measured']:.3f}"))
    if as_json:
        print_json(api.json_ready(report))  # JSON has no NaN (no noise floor, a tied tau)
        return
    m = report["metrics"]
    for warning in m["warnings"]:
        console.print(f"warning: {warning}")
    nf = m["noise_floor"]
    console.print(f"{samples} random networks on {t.backend}: MAPE {100 * m['mape']:.1f}%, "
                  f"within ±5% {100 * m['within_5']:.0f}%, within ±10% "
                  f"{100 * m['within_10']:.0f}%, Kendall τ {m['kendall_tau']:.3f}, median "
                  f"error {100 * m['median_error']:+.1f}%")
    if nf["n"]:
        console.print(f"noise floor (same network re-measured, n={nf['n']}): median "
                      f"{100 * nf['median']:.1f}%, p90 {100 * nf['p90']:.1f}%")
    else:
        console.print("noise floor: not measured (--noise-samples 0)")
    for w in m["worst"]:
        console.print(f"  worst: {w['arch_key']} predicted {w['predicted_ms']:.3f} ms, measured "
                      f"{w['measured_ms']:.3f} ms ({100 * w['error']:+.1f}%)")
    console.print(f"report: {report['report']}; plot: {report['plot']}")
