"""`hwnas tables validate`: measure random whole networks and compare with the table."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, print_json, progress_bar
from hwnas.latency.drift import describe_drift
from hwnas.tables.validate import DEFAULT_NOISE_SAMPLES

TABLE = click.Path(dir_okay=False)


@click.command()
@click.argument("table", type=TABLE)
@click.option("--samples", type=click.IntRange(min=2), default=100, show_default=True,
              help="Random whole networks to measure.")
@options.seed
@click.option("--noise-samples", type=click.IntRange(min=0), default=DEFAULT_NOISE_SAMPLES,
              show_default=True,
              help="Networks re-measured at the end: the noise floor, and the Kendall τ that "
                   "re-measuring reaches (30: fewer leave that τ uncertain by ±0.05 or more).")
@options.rounds
@click.option("--out", type=TABLE, default=None,
              help="Report JSON (default: beside the table, <table>.validation.json).")
@click.option("--no-reference", "no_reference", is_flag=True,
              help="Compare raw times, not normalised by the table's reference workload.")
@options.allow_mismatch
@options.as_json
def validate(table, samples, seed, noise_samples, rounds, out, no_reference, allow_mismatch,
             as_json):
    """Measure random whole networks and compare with the table's predictions.

    \b
    Examples:
      hwnas tables validate TABLE --samples 100
      hwnas tables validate TABLE --samples 100 --seed 7 --noise-samples 30 --json
    """
    t = api.show_table(table)  # for the bar's title (a bad file is refused before it)
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task(f"validating on {t.backend}", total=samples * rounds, info="")
        report = api.validate_table(
            table, samples=samples, seed=seed, noise_samples=noise_samples, out=out,
            rounds=rounds,
            allow_mismatch=allow_mismatch, reference=not no_reference,
            progress=lambda e: bar.update(
                task, completed=e["index"] + 1,
                info=f"pred {e['predicted']:.3f} meas {e['measured']:.3f}"))
    if as_json:
        print_json(api.json_ready(report))  # JSON has no NaN (no noise floor, a tied tau)
        return
    m = report["metrics"]
    for warning in m["warnings"]:
        console.print(f"warning: {warning}")
    for note in m.get("notes", []):
        console.print(f"note: {note}")
    if m.get("drift"):
        console.print(describe_drift(m["drift"]))
    console.print(f"{samples} random networks on {t.backend}, {t.stat} predicted and "
                  f"measured: {_line(m)}"
                  + (" (normalised by the reference workload)" if m.get("reference") else ""))
    for name, label in (("affine_only", "affine calibration alone"),
                        ("raw", "raw times, not normalised"), ("plain_sum", "plain sum")):
        if name in m:
            console.print(f"  {label}: {_line(m[name])}")
    nf, nc = m["noise_floor"], m["noise_ceiling"]
    if nf["n"]:
        console.print(f"noise floor (same network re-measured, n={nf['n']}): median "
                      f"{100 * nf['median']:.1f}%, p90 {100 * nf['p90']:.1f}%; noise ceiling: "
                      f"Kendall τ {nc['tau_remeasured']:.3f} between the two measurements, "
                      f"{nc['tau_predicted']:.3f} for the prediction on the same networks; "
                      f"within ±10% of the re-measurement {100 * nc['within_10_remeasured']:.0f}%"
                      f", of the prediction {100 * nc['within_10_predicted']:.0f}%")
    else:
        console.print("noise floor: not measured (--noise-samples 0), nor the noise ceiling")
    for w in m["worst"]:
        console.print(f"  worst: {w['arch_key']} predicted {w['predicted_ms']:.3f} ms, measured "
                      f"{w['measured_ms']:.3f} ms ({100 * w['error']:+.1f}%)")
    console.print(f"report: {report['report']}; plot: {report['plot']}; table hash "
                  f"{report['table_hash'][:12]}")
    console.print(m["verdict"]["line"])


def _line(m: dict) -> str:
    return (f"MAPE {100 * m['mape']:.1f}%, within ±5% {100 * m['within_5']:.0f}%, within ±10% "
            f"{100 * m['within_10']:.0f}%, Kendall τ {m['kendall_tau']:.3f}, median error "
            f"{100 * m['median_error']:+.1f}%")
