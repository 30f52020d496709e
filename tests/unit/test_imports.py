"""Startup stays light: `import hwnas` and `hwnas --help` load no torch, and the lazy public API
and command list behave as the eager ones did."""

from __future__ import annotations

import json
import subprocess
import sys

import click
from click.testing import CliRunner

HEAVY = ("torch", "pymoo", "sklearn", "matplotlib", "scipy", "onnx", "onnxruntime")


def _fresh(code: str) -> str:
    """Run `code` in a new interpreter (this one has long imported everything)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_hwnas_and_its_cli_loads_no_torch():
    assert _fresh("import hwnas, hwnas.cli, sys; print('torch' in sys.modules)") == "False"


def test_modules_of_the_light_paths_import_no_heavy_library():
    modules = ["hwnas.data", "hwnas.runs", "hwnas.fileio", "hwnas.estimators.scratch",
               "hwnas.analysis.pareto", "hwnas.analysis.plots", "hwnas.analysis.picking",
               "hwnas.api.pareto", "hwnas.api.export", "hwnas.api.profile", "hwnas.api.common",
               "hwnas.cli.pareto_cmd", "hwnas.cli.export_cmd", "hwnas.cli.profile_cmd",
               "hwnas.cli.demo_cmd", "hwnas.cli.render", "hwnas.cli.errors",
               # the plain-data contracts every layer imports, and what moved out of api
               "hwnas.core.outcome", "hwnas.core.failure", "hwnas.core.costs",
               "hwnas.core.context", "hwnas.analysis.reference", "hwnas.latency.identity"]
    out = _fresh(f"import importlib, json, sys\n"
                 f"for m in {modules!r}: importlib.import_module(m)\n"
                 f"from hwnas.estimators.scratch import ScratchEstimator\n"
                 f"assert ScratchEstimator.option_specs['epochs'].default == 3\n"
                 f"print(json.dumps([h for h in {HEAVY!r} if h in sys.modules]))")
    assert json.loads(out) == []


def test_listing_plugins_loads_no_torch():
    """Every plug-in module is imported to list it: the torch parts of spaces (modules/) and of
    one-shot methods (hwnas.oneshot) load only when a network is built or trained."""
    out = _fresh("import io, contextlib, sys\nfrom hwnas.cli import app\n"
                 "from hwnas.cli.errors import run_app\n"
                 "with contextlib.redirect_stdout(io.StringIO()):\n"
                 "    assert run_app(app, ['list', 'strategies']) == 0\n"
                 "    assert run_app(app, ['list', 'spaces']) == 0\n"
                 f"print([h for h in {HEAVY!r} if h in sys.modules])")
    assert out == "[]"


def test_help_imports_no_command():
    out = _fresh("import sys\nfrom hwnas.cli import main\ntry:\n    main(['--help'])\n"
                 "except SystemExit as e:\n    assert e.code == 0\n"
                 "print('#', sorted(m for m in sys.modules if m.startswith(('hwnas.api', "
                 "'hwnas.cli.', 'numpy')) and m != 'hwnas.cli.errors'))")
    assert "Commands:" in out and out.splitlines()[-1] == "# []"


def test_lazy_public_names_are_the_real_objects():
    out = _fresh("import hwnas\n"
                 "import hwnas.searching.loop, hwnas.searching.config  # imported after hwnas\n"
                 "from hwnas import search, export, LatencyTable, RunDir, SPACES\n"
                 "import sys\n"  # hwnas.api rebinds its submodules' names to their functions
                 "a, t, r = (sys.modules[m] for m in ('hwnas.api.search', "
                 "'hwnas.latency.table', 'hwnas.registry'))\n"
                 "print(search is a.search and hwnas.search is a.search, LatencyTable is "
                 "t.LatencyTable, SPACES is r.SPACES, callable(export))")
    assert out == "True True True True"


def test_no_subpackage_is_named_like_a_public_name():
    """Importing `hwnas.<name>.x` sets `hwnas.<name>` to the package, hiding a public function
    of that name (the loop's package is `hwnas.searching` for this reason)."""
    import pkgutil

    import hwnas

    assert not {m.name for m in pkgutil.iter_modules(hwnas.__path__)} & set(hwnas.__all__)


def test_every_public_name_resolves_and_all_is_complete():
    import hwnas

    assert set(hwnas.__all__) == set(hwnas._EXPORTS)
    assert all(getattr(hwnas, name) is not None for name in hwnas.__all__)
    assert set(hwnas.__all__) <= set(dir(hwnas))
    try:
        hwnas.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("an unknown attribute must raise AttributeError")


def test_lazy_command_list_matches_the_commands_own_help():
    from hwnas.cli import COMMANDS, app

    commands = {name: app.get_command(None, name) for name in COMMANDS}
    assert {name: cmd.name for name, cmd in commands.items()} == {n: n for n in COMMANDS}
    eager = click.Group("hwnas", commands=commands, help=app.help,
                        context_settings=app.context_settings)
    runner = CliRunner()
    for width in (60, 80, 200):  # summaries shortened at any terminal width agree too
        lazy_out = runner.invoke(app, ["--help"], terminal_width=width, prog_name="hwnas")
        eager_out = runner.invoke(eager, ["--help"], terminal_width=width, prog_name="hwnas")
        assert lazy_out.exit_code == 0 and lazy_out.output == eager_out.output
    assert app.get_command(None, "nope") is None
