"""`hwnas tables ...`: one file per subcommand, gathered into one click group here."""

from __future__ import annotations

import click

from hwnas.cli.tables.calibrate import calibrate
from hwnas.cli.tables.diff import diff
from hwnas.cli.tables.fill import fill
from hwnas.cli.tables.import_ import import_
from hwnas.cli.tables.show import show
from hwnas.cli.tables.validate import validate


@click.group()
def tables():
    """Inspect, validate and calibrate latency tables."""


for _command in (show, validate, calibrate):
    tables.add_command(_command)
tables.add_command(fill)
tables.add_command(diff)
tables.add_command(import_)
