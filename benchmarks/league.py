"""League of search strategies on NAS-Bench-201 × HW-NAS-Bench: five problems, equal budget.

Every registered sample-based strategy (or `--methods`) runs `--seeds` seeds × `--budget`
evaluations per problem via `hwnas bench`'s API; each problem's results.json, hv.png and
league.md go under `--out`, and the markdown for BENCHMARKS.md is printed with the command
and the machine.

    .venv/bin/python benchmarks/league.py            # 500 evaluations x 10 seeds
    .venv/bin/python benchmarks/league.py --problems a --limit-percentile 10   # latency under
                                  # the space's 10th percentile, scored on the feasible front

Goal (issue "Tabular benchmark spaces and the league table"), problem (a): random about 0.990
HV ratio and ~4% of the 44 true-front cells, pymoo NSGA-II about 0.997 and 20%, the best hwnas
strategy >= 0.999 and >= 50%; every strategy other than random beats random.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.league.metrics import league_markdown, scoring_notes  # noqa: E402
from hwnas.league.runner import bench, machine, prepare, write_outputs  # noqa: E402

DEFAULT_BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv"
PROBLEMS = {
    "a": ("CIFAR-10 test accuracy × Pixel 3 latency", "accuracy:cifar10,latency:pixel3"),
    "b": ("CIFAR-100 test accuracy × Raspberry Pi 4 latency",
          "accuracy:cifar100,latency:raspi4"),
    "c": ("CIFAR-10 accuracy × Raspberry Pi 4 latency × FPGA latency",
          "accuracy:cifar10,latency:raspi4,latency:fpga"),
    # Added with the controllers issue: another dataset and other devices. No default was
    # tuned on (d) or (e) (aging evolution's on benchmarks/evolution_defaults.py's problems).
    "d": ("ImageNet16-120 test accuracy × edge GPU latency",
          "accuracy:imagenet16,latency:edgegpu"),
    "e": ("CIFAR-100 test accuracy × Eyeriss latency", "accuracy:cifar100,latency:eyeriss"),
}
CAVEAT = ("HW-NAS-Bench costs are those of its CIFAR-10 network configuration for every "
          "problem (the CIFAR-100 configuration's are not in the benchmark; they differ mainly "
          "by the classifier head, HW-NAS-Bench issue #10).")


def problem_limits(objectives: str, args) -> tuple[list[str], dict[str, str]]:
    """The problem's constraints: --constraint as given, and --limit-percentile's limit on its
    first device cost read from the benchmark (with a note saying which percentile)."""
    constraints, notes = list(args.constraint), {}
    if args.limit_percentile is not None:
        from hwnas.league.limits import percentile_limit
        from hwnas.tabular.benchmark import BenchmarkTable

        limit = percentile_limit(BenchmarkTable.load(args.benchmark), objectives,
                                 args.limit_percentile)
        constraints.append(limit.text)
        notes[limit.text] = limit.note
        print(f"limit: {limit.text} ({limit.note})", file=sys.stderr, flush=True)
    return constraints, notes


def run_problem(key: str, args, out: Path, command: str) -> tuple[dict, float]:
    title, objectives = PROBLEMS[key]
    constraints, notes = problem_limits(objectives, args)
    problem, names, options = prepare(args.benchmark, objectives, methods=args.methods,
                                      strategy_opts=args.strategy_opt, constraints=constraints)
    start = time.perf_counter()
    results = bench(problem, names, args.seeds, args.budget, every=args.every, options=options)
    elapsed = time.perf_counter() - start
    results = {"benchmark": str(args.benchmark), "space": problem.space.name, "problem": title,
               "command": command, "machine": machine(),
               **({"constraint_notes": notes} if notes else {}), **results}
    return write_outputs(results, out / key), elapsed


def machine_line(m: dict) -> str:
    v = m["versions"]
    return (f"{m['processor']} ({m['cpus']} CPUs, shared), {m['platform']}, Python "
            f"{v['python']}, numpy {v.get('numpy', '?')}, pymoo {v.get('pymoo', '?')}")


def add_league_args(parser: argparse.ArgumentParser) -> None:
    """The options every league script takes: the benchmark, budget, seeds, curve step,
    methods and their options."""
    parser.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--methods", default=None, help="comma-separated (default: all)")
    parser.add_argument("--strategy-opt", action="append", default=[],
                        metavar="METHOD:KEY=VALUE", help="e.g. nsga2:population=40 (repeatable)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_league_args(parser)
    parser.add_argument("--problems", default="abcde", help="subset of 'abcde'")
    parser.add_argument("--constraint", action="append", default=[], metavar="EXPR",
                        help="hard limit on every problem, as hwnas bench --constraint, "
                             "e.g. latency:pixel3<=3 (repeatable)")
    parser.add_argument("--limit-percentile", type=float, default=None, metavar="P",
                        help="also limit each problem's first device cost (its latency) to "
                             "its P-th percentile over the benchmark's rows, e.g. 10")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or ROOT / "runs" / f"league-{dt.datetime.now():%Y%m%d-%H%M%S}"
    command = ".venv/bin/python benchmarks/league.py " + shlex.join(sys.argv[1:])
    sections = []
    for key in args.problems:
        results, elapsed = run_problem(key, args, out, command)
        sections.append(f"### ({key}) {results['problem']}\n\n"
                        f"{league_markdown(results, notes=False)}\n"
                        f"Whole league: {elapsed:.0f} s. Files: `{out / key}`.\n")
        print(f"({key}) done in {elapsed:.0f} s", file=sys.stderr, flush=True)
    limited = " under hard limits" if args.constraint or args.limit_percentile else ""
    print(f"## Search strategies on NAS-Bench-201 × HW-NAS-Bench{limited} "
          "(`benchmarks/league.py`)\n")
    print(f"Machine: {machine_line(machine())}.")
    print(f"Command: `{command.strip()}` ({dt.date.today().isoformat()}); benchmark "
          f"`{args.benchmark.name}` (`../shared/benchmarks/nb201_hw/`).")
    print(f"{CAVEAT} {scoring_notes(results)}\n")
    print("\n".join(sections))


if __name__ == "__main__":
    main()
