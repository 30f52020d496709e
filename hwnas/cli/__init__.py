"""The `hwnas` command line: one file per command; the only package importing click/rich."""

from __future__ import annotations

import sys

import click

from hwnas.cli.bench_cmd import bench
from hwnas.cli.demo_cmd import demo
from hwnas.cli.errors import run_app
from hwnas.cli.export_cmd import export
from hwnas.cli.list_cmd import list_
from hwnas.cli.pareto_cmd import pareto
from hwnas.cli.profile_cmd import profile
from hwnas.cli.search_cmd import search
from hwnas.cli.tables import tables


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def app():
    """Hardware-aware multi-objective neural architecture search.

    \b
    hwnas profile --space proxyless --backend ort-cpu
    hwnas tables validate latency_tables/<device>/<table>.json --samples 100
    hwnas search  --table latency_tables/<device>/<table>.json --method evolution
    hwnas pareto  runs/<run> [runs/<other> ...]
    hwnas export  runs/<run> --pick "latency_ms<=3"
    hwnas demo
    """


for _command in (profile, tables, search, pareto, export, demo, list_, bench):
    app.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_app(app, argv))
