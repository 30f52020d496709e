"""Which space a latency table was made for, against the space a command asks for.

A table lacking ops of the space asked has two causes with two different remedies. Made for
that very space (same options) but incomplete, `hwnas tables fill TABLE` measures what it
lacks. Made for another space, or for the same space at other options (another resolution,
width or class count: other op shapes), filling it cannot help: `tables fill` measures the
table's own space. Then the answer names what the table was made for, what was asked, and the
`hwnas profile` command for the space asked, on the table's own backend and threads.
"""

from __future__ import annotations

from hwnas.errors import BadInputError, MissingLatencyError
from hwnas.quoting import shell_word


def missing_ops_error(table, space, missing: list[str]) -> BadInputError:
    """The one-line refusal of `table` for `space`, which lacks the ops `missing`."""
    made = table.space or {}
    made_name, made_config = made.get("name"), dict(made.get("config") or {})
    asked_config = space.config()
    if made_name == space.name and not _differences(made_config, asked_config):
        return MissingLatencyError(missing, table.path, table.fill_command())
    where = f"latency table {table.path}" if table.path else "the latency table"
    if made_name != space.name:
        made_text = (f"space {made_name} ({_options_text(made_config)})" if made_name
                     else "an unnamed space")
        asked = f"space {space.name}"
    else:
        diff = _differences(made_config, asked_config)
        made_text = f"{made_name} with " + ", ".join(f"{k}={made_config[k]}" for k in diff)
        asked = ", ".join(f"{k}={asked_config[k]}" for k in diff)
    return BadInputError(
        f"{where} was made for {made_text}, not {asked}: it has no entry for {len(missing)} "
        f"of the ops asked; profile a table for them with `{profile_command(table, space)}` "
        "and pass it with --table")


def profile_command(table, space) -> str:
    """`hwnas profile` for `space` as asked (its options that differ from the space's
    defaults), on the backend, threads, batch and dtype `table` was measured with."""
    from hwnas.registry import SPACES

    try:
        defaults = SPACES.get(space.name)().config()
    except (BadInputError, TypeError):  # a space without defaults: name every option
        defaults = {}
    word, config = type(space).command_words(space.config())
    options = "".join(f" --space-opt {shell_word(f'{k}={v}')}" for k, v in config.items()
                      if defaults.get(k, object()) != v)
    extra = (f" --threads {table.threads}" if table.threads else "") \
        + (f" --batch {table.batch}" if table.batch != 1 else "") \
        + (f" --dtype {shell_word(table.dtype)}" if table.dtype != "fp32" else "")
    return (f"hwnas profile --space {shell_word(word)}{options} "
            f"--backend {shell_word(table.backend)}{extra}")


def _differences(made: dict, asked: dict) -> list[str]:
    """Options both name with other values (a table older than an option names fewer)."""
    return [k for k in asked if k in made and made[k] != asked[k]]


def _options_text(config: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items()) or "its defaults"
