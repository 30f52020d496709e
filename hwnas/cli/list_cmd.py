"""`hwnas list`: what is registered (spaces, strategies, estimators, backends)."""

from __future__ import annotations

import click

from hwnas.cli import options
from hwnas.cli.render import console, print_json
from hwnas.errors import BadInputError
from hwnas.registry import ESTIMATORS, PROFILERS, SPACES, STRATEGIES

KINDS = {"spaces": SPACES, "strategies": STRATEGIES, "estimators": ESTIMATORS,
         "backends": PROFILERS}


@click.command("list")
@click.argument("kind", default="all")
@options.as_json
def list_(kind, as_json):
    """List spaces, strategies, estimators and backends (KIND: one of them, or all)."""
    if kind != "all" and kind not in KINDS:
        raise BadInputError(f"cannot list {kind!r}; allowed: all, {', '.join(KINDS)}")
    payload = {}
    for name, registry in KINDS.items():
        if kind in ("all", name):
            payload[name] = {n: _describe(name, registry.get(n)) for n in registry.names()}
    if as_json:
        print_json(payload)
        return
    for name, items in payload.items():
        console.print(f"[bold]{name}[/bold]")
        for item, text in items.items():
            console.print(f"  {item:<12} {text}")


def _describe(kind: str, obj) -> str:
    if kind == "backends":
        reason = obj.unavailable_reason()
        return "available" if reason is None else f"unavailable: {reason}"
    doc = (obj.__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""
