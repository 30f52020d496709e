"""`hwnas list`: what is registered (spaces, strategies, estimators, evaluators, benchmark
formats, backends)."""

from __future__ import annotations

import click

from hwnas.cli import options
from hwnas.cli.render import console, print_json
from hwnas.errors import BadInputError
from hwnas.registry import (
    BENCHMARK_FORMATS,
    ESTIMATORS,
    EVALUATORS,
    PROFILERS,
    SPACES,
    STRATEGIES,
)

KINDS = {"spaces": SPACES, "strategies": STRATEGIES, "estimators": ESTIMATORS,
         "evaluators": EVALUATORS, "formats": BENCHMARK_FORMATS, "backends": PROFILERS}


@click.command("list")
@click.argument("kind", default="all")
@options.as_json
def list_(kind, as_json):
    """List spaces, strategies, estimators, evaluators, formats and backends (KIND: one of
    them, or all)."""
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
        for item, entry in items.items():
            console.print(f"  {item:<12} {entry['summary']}", highlight=False, markup=False)
            for option, spec in entry.get("options", {}).items():
                console.print(f"  {'':<14}{option}={spec['default']!r}  ({spec['allowed']})",
                              highlight=False, markup=False)


def _describe(kind: str, obj) -> dict:
    """{"summary": first docstring line or availability, "options": declared options}."""
    if kind == "backends":
        reason = obj.unavailable_reason()
        return {"summary": "available" if reason is None else f"unavailable: {reason}"}
    doc = (obj.__doc__ or "").strip().splitlines()
    entry = {"summary": doc[0] if doc else ""}
    specs = getattr(obj, "option_specs", None)
    if specs:
        entry["options"] = {name: {"default": spec.default, "allowed": spec.describe(),
                                   **({"help": spec.help} if spec.help else {})}
                            for name, spec in specs.items()}
    return entry
