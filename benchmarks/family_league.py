"""League of search strategies over the whole family of NAS-Bench-201 × HW-NAS-Bench problems.

Every accuracy dataset × every device cost of the benchmark (21 two-objective problems on
nb201_hw.csv) and a seeded sample of three- and four-objective ones (hwnas.league.family),
each run as `hwnas bench` runs one problem (`--seeds` seeds × `--budget` evaluations of every
registered sample-based strategy, or `--methods`). Each problem's results.json, league.md and
hv.png go under OUT/<slug>/, the summary under OUT/family.json and OUT/family.md, and the
markdown for BENCHMARKS.md is printed with the command and the machine.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/family_league.py --out runs/family  # 500 x 10
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/family_league.py --budget 100 --seeds 2 \\
        --methods random,nsga2,evolution --group two --out runs/family-small

Split over processes: problems already in OUT with the same setting are read, not re-run, so
two processes on disjoint problems can share OUT, and a last call finds every problem there
and only summarises:

    ... family_league.py --out runs/family --part 1/2 &
    ... family_league.py --out runs/family --part 2/2 &
    wait; ... family_league.py --out runs/family      # nothing re-run
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

from benchmarks.league import CAVEAT, add_league_args, machine_line  # noqa: E402
from hwnas.api.family import family_of, prepare_family, run_family  # noqa: E402
from hwnas.errors import BadInputError  # noqa: E402
from hwnas.league.family import MULTI, TWO  # noqa: E402
from hwnas.league.family_summary import family_markdown  # noqa: E402
from hwnas.league.runner import machine  # noqa: E402

GROUPS = {"two": TWO, "multi": MULTI}


def chosen_slugs(args) -> list[str] | None:
    """--problems, else the family filtered by --group and cut by --part (None: all)."""
    if args.problems:
        return [s.strip() for s in args.problems.split(",")]
    if args.group is None and args.part is None:
        return None
    family = family_of(args.benchmark, sample_seed=args.sample_seed)
    slugs = [p.slug for p in family if args.group is None or p.group == GROUPS[args.group]]
    if args.part is not None:
        index, _, parts = args.part.partition("/")
        i, n = int(index), int(parts)
        if not 1 <= i <= n:
            raise BadInputError(f"--part {args.part}: give I/N with 1 <= I <= N, e.g. 1/2")
        slugs = slugs[i - 1::n]
    return slugs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_league_args(parser)
    parser.add_argument("--problems", default=None, metavar="SLUG,SLUG",
                        help="only these problems (`hwnas bench --family --list-problems`)")
    parser.add_argument("--group", choices=sorted(GROUPS), default=None,
                        help="only the two-objective problems, or only the sampled 3/4-objective")
    parser.add_argument("--part", default=None, metavar="I/N",
                        help="every N-th problem from the I-th: one of N processes sharing --out")
    parser.add_argument("--sample-seed", type=int, default=0,
                        help="seed of the 3/4-objective sample (hwnas.league.family)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or ROOT / "runs" / f"family-{dt.datetime.now():%Y%m%d-%H%M%S}"
    command = ".venv/bin/python benchmarks/family_league.py " + shlex.join(sys.argv[1:])
    try:
        plan = prepare_family(args.benchmark, out=out, methods=args.methods,
                              strategy_opts=args.strategy_opt, problems=chosen_slugs(args),
                              budget=args.budget, seeds=args.seeds, every=args.every,
                              sample_seed=args.sample_seed)
    except BadInputError as exc:
        parser.exit(2, f"family_league.py: error: {exc}\n")

    def progress(event: dict) -> None:
        if event["event"] == "problem":
            at = f"[{event['index']}/{event['of']}] {event['slug']}"
            print(f"{at}: read, not re-run" if event["reused"]
                  else f"{at}: done in {event['wall_s']:.0f} s", file=sys.stderr, flush=True)

    start = time.perf_counter()
    family = run_family(plan, command=command, progress=progress)
    elapsed = time.perf_counter() - start
    ran = len(family["problems"]) - len(family["reused"])
    print("## Search strategies over the family of NAS-Bench-201 × HW-NAS-Bench problems "
          "(`benchmarks/family_league.py`)\n")
    print(f"Machine: {machine_line(machine())}.")
    print(f"Command: `OMP_NUM_THREADS=1 {command.strip()}` ({dt.date.today().isoformat()}); "
          f"benchmark `{args.benchmark.name}` (`../shared/benchmarks/nb201_hw/`). This call: "
          f"{elapsed:.0f} s, {ran} problem(s) run, {len(family['reused'])} read from `{out}` "
          "(run before, same setting).")
    print(f"{CAVEAT}\n")
    print(family_markdown(family))


if __name__ == "__main__":
    main()
