"""`hwnas list`: what is registered (spaces, strategies, estimators, evaluators, benchmark
formats, backends)."""

from __future__ import annotations

import click

from hwnas.cli import options
from hwnas.cli.fit import echo
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
@click.argument("name", required=False)
@options.as_json
def list_(kind, name, as_json):
    """List spaces, strategies, estimators, evaluators, formats and backends (KIND: one of
    them, or all).

    With NAME, one plug-in: its description, and each option's default, type and allowed
    values (what --strategy-opt, --estimator-opt, --space-opt... accept).

    \b
    Examples:
      hwnas list
      hwnas list strategies
      hwnas list strategies evolution
      hwnas list estimators scratch --json
      hwnas list backends
    """
    if kind != "all" and kind not in KINDS:
        import difflib

        close = difflib.get_close_matches(kind, list(KINDS), n=1, cutoff=0.3)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadInputError(f"cannot list {kind!r}; allowed: all, {', '.join(KINDS)}{hint}")
    if name is not None:
        if kind == "all":
            raise BadInputError(f"give the kind of {name!r} too, e.g. `hwnas list strategies "
                                f"{name}` (kinds: {', '.join(KINDS)})")
        return _show_one(kind, name, as_json)
    payload = {}
    for kind_name, registry in KINDS.items():
        if kind in ("all", kind_name):
            payload[kind_name] = {n: _describe(kind_name, registry.get(n),
                                               probe=kind == "backends")
                                  for n in registry.names()}
    if as_json:
        print_json(payload)
        return
    for name, items in payload.items():
        console.print(f"[bold]{name}[/bold]")
        if name == "strategies":  # not a plug-in: `hwnas search --method auto` picks one
            from hwnas.searching.auto import SUMMARY

            echo(f"  {'auto':<12} {SUMMARY}", hang=15)
        for item, entry in items.items():  # continuation lines under their entry's text
            echo(f"  {item:<12} {entry['summary']}", hang=15)
            for option, spec in entry.get("options", {}).items():
                echo(f"  {'':<14}{option}={spec['default']!r}  ({spec['allowed']})", hang=18)
    if kind == "all":
        echo("which backends run here: hwnas list backends")


def _show_one(kind: str, name: str, as_json: bool) -> None:
    """One plug-in in full: its whole docstring, then every option (default, allowed, help)."""
    obj = KINDS[kind].get(name)  # an unknown name: one line with the closest
    entry = _describe(kind, obj, probe=True)
    doc = (obj.__doc__ or "").strip()
    if as_json:
        print_json({kind: {name: {**entry, "doc": doc}}})
        return
    singular = {"strategies": "strategy", "spaces": "space", "estimators": "estimator",
                "evaluators": "evaluator", "formats": "format", "backends": "backend"}[kind]
    echo(f"{singular} {name}: {entry['summary']}", hang=2)
    # a backend's summary says whether it runs here, so its description follows in full
    for line in doc.splitlines()[0 if kind == "backends" else 1:]:
        echo(f"  {line.strip()}")
    specs = entry.get("options", {})
    if not specs:
        console.print("  options: none")
        return
    console.print("  options (KEY=VALUE; default, then allowed values):")
    width = max(len(k) for k in specs)
    for option, spec in specs.items():
        line = f"    {option:<{width}}  default {spec['default']!r:<10} {spec['allowed']}"
        if spec.get("help"):
            line += f"  - {spec['help']}"
        echo(line, hang=width + 6)


def _describe(kind: str, obj, probe: bool = False) -> dict:
    """{"summary": first docstring line, "options": declared options}; a backend probed
    (`probe`) says instead whether it runs here."""
    doc = (obj.__doc__ or "").strip().splitlines()
    if kind == "backends":
        # Probing imports torch and runs an onnxruntime session (seconds), so only the
        # command that asks for backends by name does it; `hwnas list` stays instant.
        if not probe:
            return {"summary": doc[0] if doc else ""}
        reason = obj.unavailable_reason()
        return {"summary": "available" if reason is None else f"unavailable: {reason}",
                "available": reason is None}
    entry = {"summary": doc[0] if doc else ""}
    specs = getattr(obj, "option_specs", None)
    if specs:
        entry["options"] = {name: {"default": spec.default, "allowed": spec.describe(),
                                   **({"help": spec.help} if spec.help else {})}
                            for name, spec in specs.items()}
    return entry
