"""One supernet, one run per latency table: `hwnas search --method ofa --table A --table B`.

Once-for-all's point is that the supernet is trained once and only the search is repeated per
deployment scenario. Here every table gets a run of its own (its own front, history and
report, comparable with any other run on that table): the first table's run trains the
supernet (hwnas.strategies.ofa), every later one searches it (`supernet=<first run>`), so a
table after the first costs its evolution and its proposals' evaluations only.

Every refusal comes before anything is written: the method, the tables (each loaded, covering
the space, exportable as a single-table search requires), the run folders (free).
"""

from __future__ import annotations

import copy
from pathlib import Path

from hwnas.errors import BadInputError
from hwnas.searching.config import SearchConfig

# The methods whose trained state serves several tables, and the option that reuses it.
REUSES_SUPERNET = {"ofa": "supernet"}


def table_run_dirs(base: str, tables: list[str]) -> list[str]:
    """One run folder per table: `<base>-<table's file stem>` (`-table<i>` if stems repeat)."""
    stems = [Path(t).stem for t in tables]
    if len(set(stems)) == len(stems):
        return [f"{base}-{s}" for s in stems]
    return [f"{base}-table{i + 1}" for i in range(len(tables))]


def plan_table_runs(config: SearchConfig, tables: list[str]) -> list[SearchConfig]:
    """The configuration of each table's run, the later ones reusing the first one's trained
    state; refuses, in one line, what cannot be run that way."""
    from hwnas.api.search import absolute_paths, default_run_dir
    from hwnas.fileio import check_output

    method = config.strategy
    if method not in REUSES_SUPERNET:
        takers = ", ".join(sorted(REUSES_SUPERNET))
        raise BadInputError(f"several --table are for --method {takers} (one supernet trained "
                            f"once, one run per table); --method {method} searches one table: "
                            "give one --table, or one search per table")
    option = REUSES_SUPERNET[method]
    if config.strategy_options.get(option) is not None:
        raise BadInputError(f"--strategy-opt {option}=... with several --table: the first "
                            "table's run trains the supernet the others reuse; drop one of them")
    resolved = [str(Path(t).expanduser().absolute()) for t in tables]
    repeated = sorted({t for t in resolved if resolved.count(t) > 1})
    if repeated:
        raise BadInputError(f"--table {repeated[0]} is given twice; give each table once")
    base = config.run_dir or default_run_dir(config)
    configs = []
    for table, run_dir in zip(resolved, table_run_dirs(base, tables), strict=True):
        check_output(run_dir, "--run-dir", folder=True)
        if (Path(run_dir) / "config.json").exists():
            raise BadInputError(f"run directory {run_dir} (for --table {table}) already holds a "
                                "run; choose another --run-dir")
        one = copy.deepcopy(config)
        one.table, one.run_dir = table, run_dir
        absolute_paths(one)
        _check_table(one)
        configs.append(one)
    first = str(Path(configs[0].run_dir).absolute())
    for one in configs[1:]:
        one.strategy_options = {**one.strategy_options, option: first}
    return configs


def _check_table(config: SearchConfig) -> None:
    """The table loads, covers the space and is one a single-table search accepts."""
    from hwnas.api.search import _check_table_exportable, evaluation_task
    from hwnas.data import dataset_classes

    one = copy.deepcopy(config)
    one.space_config = {"num_classes": len(dataset_classes(one.dataset)),
                        **one.space_config}
    scorer = evaluation_task(one).build_scorer()
    _check_table_exportable(scorer.table, one.allow_mismatch)
