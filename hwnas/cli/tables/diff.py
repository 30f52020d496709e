"""`hwnas tables diff`: how two tables differ, op by op and in their headers."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.fit import print_table
from hwnas.cli.render import console, print_json
from hwnas.tables.diff import EQUAL

TABLE = click.Path(dir_okay=False)


@click.command()
@click.argument("a", type=TABLE)
@click.argument("b", type=TABLE)
@options.as_json
def diff(a, b, as_json):
    """Compare table B with table A: p50 ratios B/A, per op and per op type (where B is
    faster, about equal or slower), keys on one side only, header changes.

    \b
    Examples:
      hwnas tables diff old.json new.json
    """
    report = api.diff_tables(a, b)
    if as_json:
        print_json(report)
        return
    r = report["ratio"]
    if r:
        console.print(f"{report['common']} common ops, p50 ratio B/A: median {r['median']:.3f}, "
                      f"min {r['min']:.3f}, max {r['max']:.3f}, geomean {r['geomean']:.3f}, "
                      f"sum {r['sum']:.3f}")
    else:
        console.print(f"{report['common']} common ops: no ratio to report")
    if report["by_type"]:  # where B gains and where it loses, kind of op by kind of op
        print_table(None, ["op type", "ops", "A (ms)", "B (ms)", "B/A", "faster", "equal",
                           "slower"],
                    [[t["type"], str(t["ops"]), f"{t['a_ms']:.4f}", f"{t['b_ms']:.4f}",
                      f"x{t['ratio']:.3f}", str(t["faster"]), str(t["equal"]), str(t["slower"])]
                     for t in report["by_type"]], right=(1, 2, 3, 4, 5, 6, 7), indent=2,
                    rule=False)
        console.print(f"  (faster / slower: B/A below / above 1 ± {EQUAL:.0%}; sums of "
                      f"{report['stat']})")
    if report["most_different"]:  # an op key too long for the width wraps after a '|'
        print_table(None, ["most different", "A (ms)", "B (ms)", "B/A"],
                    [[d["key"], f"{d['a']:.4f}", f"{d['b']:.4f}", f"x{d['ratio']:.3f}"]
                     for d in report["most_different"]], right=(1, 2, 3), indent=2, rule=False)
    for side in ("a", "b"):
        keys = report[f"only_in_{side}"]
        shown = ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")
        console.print(f"only in {side.upper()}: {len(keys)}" + (f": {shown}" if keys else ""))
    if report["zero_in_common"]:
        console.print(f"0 ms in A or B (no ratio): {len(report['zero_in_common'])}")
    for name, pair in report["header"].items():
        console.print(f"header {name}: A {pair['a']!r}  B {pair['b']!r}")
    if not report["header"]:
        console.print("headers: same backend, batch, dtype, threads, device, space and "
                      "quantization")
