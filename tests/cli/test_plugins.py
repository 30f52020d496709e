"""A plug-in is one new file: a throw-away strategy, estimator and evaluator written to a
temporary module, named in HWNAS_PLUGINS, and found everywhere with nothing else edited —
`hwnas list`, the CLI's choices, a real search, the option checks, and the conformance tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.cli.helpers import ROOT, assert_one_line_error

MODULE = "hwnas_throwaway_plugin"
SOURCE = textwrap.dedent('''
    """Throw-away plug-ins, registered where they are defined."""

    import zlib

    from hwnas.arch import Arch
    from hwnas.estimators.base import Estimate, Estimator
    from hwnas.evaluation.evaluators.base import Evaluator
    from hwnas.options import Option
    from hwnas.registry import ESTIMATORS, EVALUATORS, STRATEGIES
    from hwnas.search.loop import Outcome
    from hwnas.strategies.base import Strategy


    @STRATEGIES.register("throwaway-walk")
    class Walk(Strategy):
        """Random walk: mutate the last proposal `step` times."""

        option_specs = {"step": Option(1, int, low=1)}

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.last = None

        def ask(self, n=1):
            out = []
            for _ in range(n):
                arch = self.space.sample(self.rng) if self.last is None else self.last
                for _ in range(self.options["step"]):
                    arch = self.mutate(arch)
                self.last = arch
                out.append(arch)
            return out


    @ESTIMATORS.register("throwaway-est")
    class Hashed(Estimator):
        """Accuracy from a checksum of the architecture (no training)."""

        option_specs = {"bias": Option(0.0, float, low=0, high=0.5)}

        def estimate(self, arch):
            bias = self.resolved_options()["bias"]
            value = (zlib.crc32(arch.key.encode()) % 1000) / 2000 + bias
            return Estimate(accuracy=value, seconds=0.0, epochs=0)


    @EVALUATORS.register("throwaway-eval")
    class Reversed(Evaluator):
        """Evaluates a batch back to front, returns it in the order asked."""

        option_specs = {"chunk": Option(2, int, low=1)}

        def __init__(self, task, **options):
            super().__init__(task, **options)
            self.scorer = self.driver_scorer()

        def map(self, archs):
            done = {a.key: Outcome(self.scorer.evaluate(a)[0]) for a in reversed(archs)}
            return [done[a.key] for a in archs]
''')


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugin")
    (folder / f"{MODULE}.py").write_text(SOURCE)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
            "HWNAS_PLUGINS": MODULE, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}


def run(env, *argv, timeout=600):
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def hwnas(env, *args):
    return run(env, str(ROOT / "cli.py"), *args)


SEARCH = ("search", "--space", "proxyless", "--space-opt", "resolution=16",
          "--space-opt", "width_mult=0.25", "--objectives", "accuracy,params",
          "--method", "throwaway-walk", "--estimator", "throwaway-est",
          "--evaluator", "throwaway-eval")


def test_listed_and_offered_as_choices(plugin_env):
    listed = json.loads(hwnas(plugin_env, "list", "--json").stdout)
    assert listed["strategies"]["throwaway-walk"]["options"]["step"]["default"] == 1
    assert "throwaway-est" in listed["estimators"]
    assert listed["evaluators"]["throwaway-eval"]["options"]["chunk"]["allowed"] == "an int >= 1"
    helptext = hwnas(plugin_env, "search", "--help").stdout
    for name in ("throwaway-walk", "throwaway-est", "throwaway-eval"):
        assert name in helptext


def test_a_search_runs_through_all_three(plugin_env, tmp_path):
    proc = hwnas(plugin_env, *SEARCH, "--budget", "5", "--ask", "2",
                 "--run-dir", str(tmp_path / "run"), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["index"] for r in records] == [0, 1, 2, 3, 4]
    assert {r["strategy"] for r in records} == {"throwaway-walk"}
    assert {r["evaluator"] for r in records} == {"throwaway-eval"}
    assert all(0 <= r["result"]["accuracy"] <= 1 and r["result"]["params"] > 0
               for r in records)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["evaluator_resolved"] == {"name": "throwaway-eval", "chunk": 2}


@pytest.mark.parametrize("flag, value, owner", [
    ("--strategy-opt", "step=0", "strategy 'throwaway-walk'"),
    ("--estimator-opt", "bias=0.9", "estimator 'throwaway-est'"),
    ("--evaluator-opt", "chunk=abc", "evaluator 'throwaway-eval'"),
])
def test_its_options_are_checked_before_anything_is_written(plugin_env, tmp_path, flag, value,
                                                            owner):
    proc = hwnas(plugin_env, *SEARCH, flag, value, "--run-dir", str(tmp_path / "run"))
    option = value.split("=")[0]
    assert_one_line_error(proc, 2, f"The '{option}' option of {owner} must be")
    assert not (tmp_path / "run").exists()


def test_the_conformance_tests_cover_it(plugin_env):
    """The conformance suites parametrize over the registries: they run the plug-ins too."""
    proc = run(plugin_env, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               str(ROOT / "tests" / "conformance" / "test_strategies.py"),
               str(ROOT / "tests" / "conformance" / "test_options.py"), "-k", "throwaway")
    assert proc.returncode == 0, proc.stdout[-3000:]
    summary = proc.stdout.strip().splitlines()[-1]
    passed = int(summary.split(" passed")[0].split()[-1])
    # strategy: budget/determinism, unknown option, option step x 4 invalid values;
    # estimator: bias x 5; evaluator: chunk x 4
    assert passed >= 14, proc.stdout[-2000:]
