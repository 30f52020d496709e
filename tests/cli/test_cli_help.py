"""Issue 14, item 9: `--version`, bare `hwnas`, examples in the subcommands' help, `hwnas list
KIND NAME`, tabular costs inferred from `--objectives`, errors that list the benchmark's
devices, and a legend for the compact architecture strings."""

from __future__ import annotations

import json

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.cli.helpers import hwnas
from tests.tabular_helpers import write_synthetic_nb201

# The commands of this brief; bench, demo, profile and tables have other owners.
# every command and every `tables` subcommand (`tables` itself is a group of them)
COMMANDS_WITH_EXAMPLES = ("search", "pareto", "train", "export", "runs", "list", "bench", "demo",
                          "profile", "report", "tables calibrate", "tables validate",
                          "tables show", "tables diff", "tables fill", "tables import")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_synthetic_nb201(tmp_path_factory.mktemp("bench") / "synthetic.csv")


def test_version(capsys):
    from importlib.metadata import version

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"hwnas {version('hwnas')}"


def test_bare_hwnas_prints_its_help_normally():
    proc = hwnas()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: hwnas") and "Commands:" in proc.stdout
    assert "error" not in proc.stderr


def test_the_examples_list_covers_every_command():
    from hwnas.cli import COMMANDS
    from hwnas.cli.tables import tables

    listed = {c.split()[0] for c in COMMANDS_WITH_EXAMPLES}
    assert set(COMMANDS) - {"tables"} <= listed
    assert {f"tables {name}" for name in tables.commands} <= set(COMMANDS_WITH_EXAMPLES)


@pytest.mark.parametrize("command", COMMANDS_WITH_EXAMPLES)
def test_each_command_help_has_examples(command, capsys):
    code, out, _ = run(capsys, *command.split(), "--help")
    assert code == 0 and "Examples:" in out
    examples = out.split("Examples:")[1]
    assert f"hwnas {command}" in examples


def test_list_one_plugin_shows_options_types_defaults_and_constraints(capsys):
    code, out, err = run(capsys, "list", "strategies", "evolution")
    assert code == 0, err
    assert "population" in out and "50" in out and "int" in out and "sample_size" in out
    assert "random" not in out.split("\n")[0]  # only the one plug-in
    code, out, _ = run(capsys, "list", "strategies", "evolution", "--json")
    assert json.loads(out)["strategies"]["evolution"]["options"]["population"]["default"] == 50
    code, _, err = run(capsys, "list", "strategies", "evolutio")
    assert code == 2 and "'evolution'" in err and "\n" not in err


def test_tabular_costs_are_inferred_from_the_objectives(synthetic, tmp_path, capsys):
    code, _, err = run(capsys, "search", "--space", "nb201", "--estimator", "tabular",
                       "--estimator-opt", f"benchmark={synthetic}", "--objectives",
                       "accuracy,latency:pixel3", "--method", "random", "--budget", "2",
                       "--run-dir", tmp_path / "r", "--json")
    assert code == 0, err
    record = json.loads((tmp_path / "r" / "history.jsonl").read_text().splitlines()[0])
    assert record["result"]["latency:pixel3"] > 0


def test_an_unknown_device_lists_the_benchmarks_devices(synthetic, tmp_path, capsys):
    code, _, err = run(capsys, "search", "--space", "nb201", "--estimator", "tabular",
                       "--estimator-opt", f"benchmark={synthetic}", "--objectives",
                       "accuracy,latency:pixel4", "--budget", "2", "--run-dir", tmp_path / "r")
    assert code == 2 and "\n" not in err
    assert "'latency:pixel4'" in err and "latency:pixel3" in err
    assert not (tmp_path / "r").exists()


def test_the_compact_arch_string_has_a_legend(synthetic, tmp_path, capsys):
    code, _, err = run(capsys, "search", "--space", "nb201", "--estimator", "tabular",
                       "--estimator-opt", f"benchmark={synthetic}", "--objectives",
                       "accuracy,latency:pixel3", "--method", "random", "--budget", "3",
                       "--run-dir", tmp_path / "r")
    assert code == 0, err
    code, out, _ = run(capsys, "pareto", tmp_path / "r")
    assert "arch legend" in out


def test_proxyless_legend_explains_its_digits():
    from hwnas.cli.pareto_cmd import arch_legend

    legend = arch_legend("proxyless")
    assert "kernel" in legend and "expansion" in legend and "zero" in legend
