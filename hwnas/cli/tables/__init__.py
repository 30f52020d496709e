"""`hwnas tables ...`: one file per subcommand, gathered into one click group here."""

from __future__ import annotations

import click

from hwnas.cli.tables.calibrate import calibrate
from hwnas.cli.tables.show import show
from hwnas.cli.tables.validate import validate


@click.group()
def tables():
    """Inspect, validate and calibrate latency tables."""


for _command in (show, validate, calibrate):
    tables.add_command(_command)
