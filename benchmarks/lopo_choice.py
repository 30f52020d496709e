"""Leave-one-problem-out choice of a setting from `benchmarks/pnas_family.py` tables.

Each input is the markdown that pnas_family.py printed for one setting (`NAME=FILE`, the same
problems and seeds in each). For every problem the setting chosen is the one with the highest
mean PNAS HV ratio over the OTHER problems; the row shows that choice and its HV ratio on the
problem held out, against random's.

    .venv/bin/python benchmarks/lopo_choice.py seen=/tmp/seen.md front=/tmp/front.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def read_table(path: Path) -> dict[str, tuple[float, float]]:
    """{problem: (random's mean HV ratio, pnas's)} from pnas_family.py's rows."""
    out = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("accuracy"):
            out[cells[0]] = (float(cells[1].split()[0]), float(cells[2].split()[0]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="+", help="NAME=FILE, one per setting")
    args = parser.parse_args()
    tables = {}
    for item in args.settings:
        name, _, file = item.partition("=")
        tables[name] = read_table(Path(file))
    problems = sorted(set.intersection(*(set(t) for t in tables.values())))
    print(f"| problem | chosen (on the other {len(problems) - 1}) | random | pnas, chosen | "
          + " | ".join(f"pnas, {n}" for n in tables) + " |")
    print("|---|---|---|---|" + "---|" * len(tables))
    below = 0
    for held in problems:
        rest = [p for p in problems if p != held]
        chosen = max(tables, key=lambda n: sum(tables[n][p][1] for p in rest) / len(rest))
        random, pnas = tables[chosen][held]
        below += pnas < random
        print(f"| {held} | {chosen} | {random:.4f} | {pnas:.4f} | "
              + " | ".join(f"{tables[n][held][1]:.4f}" for n in tables) + " |")
    print(f"\nheld-out problems where the chosen setting's mean is below random's: {below}")
    for name, table in tables.items():
        mean = sum(table[p][1] for p in problems) / len(problems)
        print(f"{name}: mean PNAS HV ratio over the {len(problems)} problems {mean:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
