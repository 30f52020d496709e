"""The `hwnas` command line: one file per command; the only package importing click/rich.

Commands are loaded on demand: `hwnas --help` lists them from the summaries below and imports
none of them, and `hwnas list` imports only `list_cmd`, so neither pays for the api, numpy,
torch or pymoo. Each summary is the first paragraph of its command's docstring
(tests/unit/test_imports.py checks that the two agree).
"""

from __future__ import annotations

import importlib
import sys

import click

from hwnas.cli.errors import run_app

# name -> (module, attribute, summary shown by `hwnas --help`)
COMMANDS = {
    "bench": ("hwnas.cli.bench_cmd", "bench", "League of search strategies at an equal "
              "evaluation budget on a tabular benchmark."),
    "demo": ("hwnas.cli.demo_cmd", "demo", "Run the whole workflow on scikit-learn's digits "
             "with the ort-cpu backend."),
    "export": ("hwnas.cli.export_cmd", "export", "Export a candidate (default: the knee of the "
               "front) and prove the export."),
    "list": ("hwnas.cli.list_cmd", "list_", "List spaces, strategies, estimators, evaluators, "
             "formats and backends (KIND: one of them, or all)."),
    "pareto": ("hwnas.cli.pareto_cmd", "pareto", "Print each run's Pareto front and "
               "hypervolume, and write a plot (RUNS side by side)."),
    "profile": ("hwnas.cli.profile_cmd", "profile", "Measure each unique op of a space on a "
                "backend and write a LatencyTable JSON."),
    "report": ("hwnas.cli.report_cmd", "report", "Write one self-contained HTML report "
               "(fronts, hypervolume, front members, table validation, configuration) of RUNS."),
    "runs": ("hwnas.cli.runs_cmd", "runs", "List the runs under FOLDER (default runs/) with "
             "their status, or show one: `hwnas runs show RUN`."),
    "search": ("hwnas.cli.search_cmd", "search", "Search a space; objectives accuracy (max) "
               "and table latency (min) by default."),
    "tables": ("hwnas.cli.tables", "tables", "Inspect, validate and calibrate latency tables."),
    "train": ("hwnas.cli.train_cmd", "train", "Train a candidate (default: the knee of the "
              "front) fully, at its deploy resolution."),
}


class LazyGroup(click.Group):
    """A click group whose commands are imported when they are run (or asked for help)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # `hwnas --version`, said in the group's help text rather than declared as a click
        # option: the command list stays identical to the eager group's (test_imports).
        if args[:1] == ["--version"]:
            from importlib.metadata import version

            click.echo(f"hwnas {version('hwnas')}")
            ctx.exit(0)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context | None, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None  # click answers "No such command"; errors.py adds the closest name
        module, attribute, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # As click.Group does, but from the summaries: listing must not import the commands.
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def app():
    """Hardware-aware multi-objective neural architecture search.

    \b
    hwnas profile --space proxyless --backend ort-cpu
    hwnas tables validate latency_tables/<device>/<table>.json --samples 100
    hwnas search  --table latency_tables/<device>/<table>.json --method evolution
    hwnas runs    [runs/]   ;   hwnas runs show runs/<run>
    hwnas pareto  runs/<run> [runs/<other> ...] --where "latency_ms<=3" --top 5
    hwnas train   runs/<run> --pick "latency_ms<=3"
    hwnas export  runs/<run> --pick "latency_ms<=3" --dry-run
    hwnas demo

    Every command takes --help (with examples) and --json; `hwnas --version` prints the
    version.
    """


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_app(app, argv))
