"""Options defined once and shared by the commands (click decorators)."""

from __future__ import annotations

import json

import click

from hwnas.errors import BadInputError
from hwnas.limits import DEFAULT_ROUNDS, MAX_BUDGET, MAX_ROUNDS, MAX_SEED, MAX_THREADS


class PluginName(click.ParamType):
    """The name of a registered plug-in. `--help` shows the registry's names, so a plug-in
    registered anywhere (hwnas.registry) is a choice of every command that takes its kind; the
    registry is loaded only when a command's help or value needs it, never by `hwnas --help`.
    An unknown name is the registry's one-line error (allowed names, the closest one)."""

    name = "name"

    def __init__(self, registry: str, extra: tuple[str, ...] = ()):
        self.registry = registry  # attribute of hwnas.registry: "SPACES", "STRATEGIES", ...
        self.extra = extra  # names the command resolves itself (`--method auto`), listed first

    def _get(self):
        from hwnas import registry

        return getattr(registry, self.registry)

    def get_metavar(self, param, ctx=None) -> str:
        return "[" + "|".join([*self.extra, *self._get().names()]) + "]"

    def convert(self, value, param, ctx):
        if value in self.extra:
            return value
        if self.registry == "SPACES" and user_space_name(value):
            return value  # a user's space file: read with --space-opt by `space_and_options`
        registry = self._get()
        if self.extra and registry.find(value) is None:  # the closest among the extra too
            import difflib

            names = [*self.extra, *registry.names()]
            close = difflib.get_close_matches(value, names, n=1, cutoff=0.3)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            nxt = f" (see `{registry.list_command}`)" if registry.list_command else ""
            raise BadInputError(f"unknown {registry.kind} {value!r}; allowed: "
                                f"{', '.join(names)}{hint}{nxt}")
        registry.get(value)  # raises BadInputError (exit 2) naming the closest
        return value


space = click.option("--space", type=PluginName("SPACES"), default="proxyless",
                     show_default=True,
                     help="Search space (see `hwnas list spaces`), or a user's own: a "
                          "FILE.yaml/.yml/.json of stages (`declared`) or FILE.py:FACTORY, a "
                          "module with hwnas.choice points (`module`).")
space_opt = click.option("--space-opt", "space_opt", multiple=True, metavar="KEY=VALUE",
                         help="Space option, e.g. resolution=32 or width_mult=0.5 (repeatable).")
threads = click.option("--threads", type=click.IntRange(1, MAX_THREADS), default=None,
                       help="Threads for the backend (default: the runtime's own choice).")
as_json = click.option("--json", "as_json", is_flag=True,
                       help="Print machine-readable JSON instead of tables.")
allow_mismatch = click.option(
    "--allow-mismatch", is_flag=True,
    help="Use a table measured on another device/backend/batch/dtype anyway (warns what it "
         "risks).")
# Hard limits of a search (hwnas.searching.constraints), written as --pick and --where are.
constraint = click.option(
    "--constraint", "constraints", multiple=True, metavar="EXPR",
    help="Hard limit every candidate must meet, e.g. 'latency_ms<=3', 'params<=2e6', "
         "'accuracy>=0.9' (repeatable; the syntax of --pick). A candidate breaking a limit on "
         "a cost known before training (table latency, params, FLOPs) is never trained.")
# Bounded where they are read (hwnas.limits): a seed beyond 32 bits or a budget of 2**63 is
# refused by click in one line, before any file is written.
SEED = click.IntRange(0, MAX_SEED)
seed = click.option("--seed", type=SEED, default=0, show_default=True,
                    help="Seed of every random component.")
# tables calibrate / validate
rounds = click.option("--rounds", type=click.IntRange(1, MAX_ROUNDS), default=DEFAULT_ROUNDS,
                      show_default=True,
                      help="Passes over the networks, spread over the run; each network's "
                           "median over them is kept (one pass lets a burst of load through).")


def budget_type(low: int = 1) -> click.IntRange:
    """A count of evaluations (or of runs), from `low` to MAX_BUDGET."""
    return click.IntRange(low, MAX_BUDGET)


def backend(default: str = "ort-cpu", help_text: str = "Backend (see `hwnas list backends`)."):
    return click.option("--backend", default=default, show_default=True, help=help_text)


def parse_kv(pairs: tuple[str, ...] | list[str] | None, what: str) -> dict:
    """('epochs=3', 'lr=0.1') -> {'epochs': 3, 'lr': 0.1}; values are JSON or plain strings."""
    out = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise BadInputError(f"{what} {pair!r} must be KEY=VALUE, e.g. epochs=3")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out


def user_space_name(value: str) -> str | None:
    """The space `--space VALUE` names when VALUE is a user's file, else None (a registered
    name, answered by the registry). A file that does not exist is refused here."""
    from hwnas.spaces.declared_spec import is_space_file
    from hwnas.spaces.user_module import is_factory_ref

    if is_space_file(value):
        from pathlib import Path

        if not Path(value).is_file():
            from hwnas.quoting import shell_word

            raise BadInputError(f"--space {shell_word(value)}: no such space file (a YAML or JSON "
                                "file of stages, or FILE.py:FACTORY; README \"Your own space\"; "
                                "the registered spaces: `hwnas list spaces`)")
        return "declared"
    return "module" if is_factory_ref(value) else None


def space_and_options(space: str, space_opt: tuple[str, ...] | list[str] | None
                      ) -> tuple[str, dict]:
    """The registered space and its options from `--space` (a name or a user's file) and
    `--space-opt`: a declared file is read and checked here, before anything is written."""
    config = parse_kv(space_opt, "--space-opt")
    name = user_space_name(space)
    if name == "declared":
        from hwnas.spaces.declared import options_from_file

        return name, {**config, **options_from_file(space)}
    if name == "module":
        return name, {**config, "factory": space}
    return space, config
