"""What the CLI calls, one module per job: profile, search, pareto, export, tables, bench.

Every function takes plain arguments, validates them where they enter and returns data; no
rendering. An optional `progress` callback receives one dict per step so a UI can render it.
Submodules import their heavy dependencies (torch, pymoo) only when called.
"""

from hwnas.api.bench import BenchPlan, bench, prepare_bench, run_bench
from hwnas.api.export import export
from hwnas.api.pareto import pareto
from hwnas.api.profile import profile, profile_bundle
from hwnas.api.search import search
from hwnas.api.tables import (
    calibrate_table,
    diff_tables,
    fill_table,
    import_table,
    plan_fill,
    show_table,
    validate_table,
)
from hwnas.fileio import json_ready  # re-exported: what the CLI prints as JSON
from hwnas.latency.identity import table_change_note

__all__ = ["BenchPlan", "bench", "calibrate_table", "diff_tables", "export", "fill_table",
           "import_table", "json_ready", "pareto", "plan_fill", "prepare_bench", "profile",
           "profile_bundle", "run_bench", "search", "show_table", "table_change_note",
           "validate_table"]
