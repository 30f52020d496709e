"""A plug-in is one new file: a throw-away strategy, estimator, evaluator and benchmark format,
a space, and a one-shot method, each written against `hwnas.plugins` alone to a temporary module
named in HWNAS_PLUGINS and found everywhere with nothing else edited — `hwnas list`, the CLI's
choices, a real search (a one-shot one too), the option checks, `hwnas pareto`'s legend and plot
(in the strategy's own colour), the report, and the conformance tests.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from tests.cli.helpers import ROOT, assert_one_line_error
from tests.tabular_helpers import ROW0, ROW1

MODULE = "hwnas_throwaway_plugin"
SOURCE = textwrap.dedent('''
    """Throw-away plug-ins, registered where they are defined."""

    import zlib

    from hwnas.plugins import (
        BENCHMARK_FORMATS,
        ESTIMATORS,
        EVALUATORS,
        SPACES,
        STRATEGIES,
        BenchmarkFormat,
        Estimate,
        Estimator,
        Evaluator,
        Option,
        Outcome,
        Strategy,
    )


    @STRATEGIES.register("throwaway-walk")
    class Walk(Strategy):
        """Random walk: mutate the last proposal `step` times."""

        plot_style = {"color": "#00ff7f", "marker": "s"}
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

        accuracy_on_dataset = False  # a checksum: no chance level of the data set's classes
        option_specs = {"bias": Option(0.0, float, low=0, high=0.5)}

        @classmethod
        def summary(cls, options):
            return f"{cls.registry_name} (checksum + {options.get('bias', 0.0)})"

        def estimate(self, arch):
            bias = self.options["bias"]
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


    @BENCHMARK_FORMATS.register("throwaway-cells")
    class Cells(BenchmarkFormat):
        """NB201 cells under `cell`, accuracies as fractions under `top1`."""

        space = "nb201"
        arch_column = "cell"
        aliases = {"accuracy": "top1", "latency:phone": "phone_ms"}
        accuracy_scale = 1.0

        def detect(self, header):
            return "cell" in header and "top1" in header

        def is_accuracy(self, column):
            return column == "top1"

        def parse_arch(self, text):
            return SPACES.get(self.space)().from_string(text)

        def arch_text(self, arch):
            return SPACES.get(self.space)().to_string(arch)
''')
SPACE_MODULE = "hwnas_throwaway_space"
SPACE_SOURCE = textwrap.dedent('''
    """A throw-away space: a chain of convolutions, each 1x1, 3x3 or skipped."""

    from hwnas.plugins import SPACES, OpSignature, Option, Position, SearchSpace

    SHORT = {"conv1": "1", "conv3": "3", "skip": "-"}


    @SPACES.register("throwaway-convs")
    class Convs(SearchSpace):
        """Conv stem, `layers` searchable convolutions, pooled linear head."""

        arch_legend = "per layer: 1 = 1x1 conv, 3 = 3x3 conv, '-' = skipped"
        small_options = {"width": 4}
        option_specs = {
            "width": Option(8, int, low=1, high=64),
            "layers": Option(3, int, low=1, high=8),
            "resolution": Option(8, int, low=4, high=64),
            "num_classes": Option(10, int, low=2, high=100),
        }

        @property
        def input_shape(self):
            return (3, self.resolution, self.resolution)

        def choices(self):
            return [(f"l{i}", tuple(SHORT)) for i in range(self.layers)]

        def layer_sig(self, choice):
            if choice == "skip":
                return None
            r = self.resolution
            return OpSignature("conv_relu", self.width, self.width, r, r, kernel=int(choice[-1]))

        def fixed_ops(self):
            r = self.resolution
            return [OpSignature("conv_relu", 3, self.width, r, r, kernel=3),
                    OpSignature("pool_fc", self.width, self.num_classes, r, r,
                                classes=self.num_classes)]

        def ops(self, arch):
            self.check(arch)
            stem, head = self.fixed_ops()
            layers = (self.layer_sig(arch.values[label]) for label, _ in self.choices())
            return [stem, *(sig for sig in layers if sig is not None), head]

        def positions(self):
            return [Position(label, options, {o: tuple(s for s in [self.layer_sig(o)] if s)
                                              for o in options})
                    for label, options in self.choices()]

        def compact(self, arch):
            return " ".join(SHORT[v] for v in arch.values.values())

        def build_op(self, sig):
            import torch.nn as nn

            if sig.op == "conv_relu":
                return nn.Sequential(nn.Conv2d(sig.cin, sig.cout, sig.kernel,
                                               padding=sig.kernel // 2), nn.ReLU())
            return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(sig.cin, sig.classes))
''')
ONESHOT_MODULE = "hwnas_throwaway_oneshot"
ONESHOT_SOURCE = textwrap.dedent('''
    """A throw-away one-shot method, strategy and mechanism in one file; torch only inside the
    steps."""

    from hwnas.plugins import (
        COMMON_OPTIONS,
        LATENCY_LOSSES,
        STRATEGIES,
        OneShotMethod,
        OneShotStrategy,
        Option,
    )


    class SoftmaxSteps(OneShotMethod):
        """Softmax-weighted mixed ops; weights on training batches, α by SGD on held-out ones."""

        def __init__(self, *args, **kwargs):
            import torch

            super().__init__(*args, **kwargs)
            self.arch_optimizer = torch.optim.SGD(self.supernet.arch_parameters(),
                                                  lr=self.options["arch_lr"])

        def weight_step(self, x, y):
            import torch.nn.functional as F

            self.supernet.set_weights([p.detach() for p in self.supernet.probs()])
            logits = self.supernet(x)
            loss = F.cross_entropy(logits, y)
            self.step_weights(loss)
            return {"loss": float(loss.detach()), "correct": int((logits.argmax(1) == y).sum())}

        def arch_step(self, x, y):
            import torch

            probs = self.supernet.probs()
            self.supernet.set_weights(probs)
            loss = self.loss(self.supernet(x), y, self.expected_cost(probs))
            alphas = self.supernet.arch_parameters()
            self.arch_optimizer.zero_grad(set_to_none=True)
            for a, g in zip(alphas, torch.autograd.grad(loss, alphas), strict=True):
                a.grad = g
            self.arch_optimizer.step()
            return {"loss": float(loss.detach())}


    @STRATEGIES.register("throwaway-softmax")
    class Softmax(OneShotStrategy):
        """First-order softmax relaxation with plain SGD on α."""

        mechanism = SoftmaxSteps
        option_specs = {
            **COMMON_OPTIONS,
            "arch_lr": Option(1.0, float, low=0, low_open=True),
            "latency_loss": Option("add_linear", str, choices=LATENCY_LOSSES),
            "lambda": Option(0.1, float, low=0),
        }
''')
MODULES = {MODULE: SOURCE, SPACE_MODULE: SPACE_SOURCE, ONESHOT_MODULE: ONESHOT_SOURCE}


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugin")
    for name, source in MODULES.items():
        (folder / f"{name}.py").write_text(source)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
            "HWNAS_PLUGINS": ",".join(MODULES), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}


def run(env, *argv, timeout=600):
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def hwnas(env, *args):
    return run(env, str(ROOT / "cli.py"), *args)


SEARCH = ("search", "--space", "proxyless", "--space-opt", "resolution=16",
          "--space-opt", "width_mult=0.25", "--objectives", "accuracy,params",
          "--method", "throwaway-walk", "--estimator", "throwaway-est",
          "--evaluator", "throwaway-eval")
# Everything a plug-in's: its space, strategy, estimator and evaluator.
OWN = ("search", "--space", "throwaway-convs", "--objectives", "accuracy,params",
       "--method", "throwaway-walk", "--estimator", "throwaway-est",
       "--evaluator", "throwaway-eval", "--estimator-opt", "bias=0.25")
WALK_RGB = (0x00, 0xFF, 0x7F)  # the walk's declared colour, #00ff7f


def test_listed_and_offered_as_choices(plugin_env):
    listed = json.loads(hwnas(plugin_env, "list", "--json").stdout)
    assert listed["strategies"]["throwaway-walk"]["options"]["step"]["default"] == 1
    assert "throwaway-est" in listed["estimators"]
    assert listed["evaluators"]["throwaway-eval"]["options"]["chunk"]["allowed"] == "an int >= 1"
    assert listed["spaces"]["throwaway-convs"]["options"]["layers"]["default"] == 3
    assert listed["strategies"]["throwaway-softmax"]["options"]["sweep"]["default"] is None
    assert "throwaway-cells" in listed["formats"]
    helptext = hwnas(plugin_env, "search", "--help").stdout
    for name in ("throwaway-walk", "throwaway-est", "throwaway-eval", "throwaway-convs",
                 "throwaway-softmax"):
        assert name in helptext


def test_they_import_the_facade_alone():
    """What a plug-in author imports is `hwnas.plugins`, never a module inside hwnas."""
    for source in MODULES.values():
        named = re.findall(r"^\s*(?:from|import) (hwnas\S*)", source, re.M)
        assert named and set(named) == {"hwnas.plugins"}, named


def test_a_benchmark_format_reads_its_own_layout(plugin_env, tmp_path):
    csv = tmp_path / "cells.csv"
    csv.write_text(f"cell,top1,phone_ms\n{ROW0},0.5,2.0\n{ROW1},0.75,4.0\n")
    probe = ("import sys\nfrom hwnas.tabular.benchmark import BenchmarkTable\n"
             "table = BenchmarkTable.load(sys.argv[1])\n"
             "print(table.format.name, table.objective_values('latency:phone').tolist())")
    proc = run(plugin_env, "-c", probe, str(csv))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(None, 1) == ["throwaway-cells", "[2.0, 4.0]\n"]


def test_listing_them_loads_no_torch(plugin_env):
    """The one-shot plug-in's mechanism is defined at import, its torch only in its steps."""
    probe = ("import io, contextlib, sys\nfrom hwnas.cli import app\n"
             "from hwnas.cli.errors import run_app\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    assert run_app(app, ['list']) == 0\n"
             "from hwnas.registry import STRATEGIES\n"
             "assert 'throwaway-softmax' in STRATEGIES\n"
             "print('torch' in sys.modules)")
    proc = run(plugin_env, "-c", probe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


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
    assert config["evaluator_resolved"] == {"chunk": 2}  # its options, as every kind records


@pytest.fixture(scope="module")
def own_run(plugin_env, tmp_path_factory):
    """A search on the plug-ins alone: the space's networks built, their params counted."""
    run_dir = tmp_path_factory.mktemp("own") / "run"
    proc = hwnas(plugin_env, *OWN, "--budget", "8", "--run-dir", str(run_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    return run_dir


def has_colour(png: bytes, rgb: tuple[int, int, int]) -> bool:
    """Whether some pixel of the image is exactly that colour (a marker's filled inside)."""
    import io

    import numpy as np
    from matplotlib.image import imread

    pixels = np.rint(imread(io.BytesIO(png), format="png")[..., :3] * 255).astype(int)
    return bool((pixels == np.array(rgb)).all(axis=-1).any())


def test_pareto_prints_its_legend_and_plots_it_in_its_colour(plugin_env, own_run, tmp_path):
    records = [json.loads(line) for line in (own_run / "history.jsonl").read_text().splitlines()]
    assert len(records) == 8 and all(r["result"]["params"] > 0 for r in records)
    assert all(re.fullmatch(r"[13-]( [13-]){2}", r["arch_short"]) for r in records)
    plot = tmp_path / "front.png"
    proc = hwnas(plugin_env, "pareto", str(own_run), "--plot", str(plot))
    assert proc.returncode == 0, proc.stderr
    assert ("arch legend (throwaway-convs): per layer: 1 = 1x1 conv, 3 = 3x3 conv, '-' = "
            "skipped") in " ".join(proc.stdout.split())
    assert has_colour(plot.read_bytes(), WALK_RGB)


def test_the_report_describes_them_as_they_describe_themselves(plugin_env, own_run, tmp_path):
    page = tmp_path / "report.html"
    proc = hwnas(plugin_env, "report", str(own_run), "-o", str(page))
    assert proc.returncode == 0, proc.stderr
    html = page.read_text()
    for name in ("throwaway-walk", "throwaway-convs", "throwaway-est"):
        assert f"<td>{name}</td>" in html
    front = re.search(r'alt="Pareto front of [^"]*" src="data:image/png;base64,([^"]+)"', html)
    assert front and has_colour(base64.b64decode(front.group(1)), WALK_RGB)
    # the front's title, drawn into that image, and its chance level: the plug-ins' own words
    probe = ("import json, sys\nfrom hwnas.report.figures import front_plot_options\n"
             "config = json.load(open(sys.argv[1]))\n"
             "print(json.dumps(front_plot_options(['r'], [config])))")
    shown = run(plugin_env, "-c", probe, str(own_run / "config.json"))
    assert shown.returncode == 0, shown.stderr
    options = json.loads(shown.stdout)
    assert "space throwaway-convs" in options["title"]
    assert "estimator throwaway-est (checksum + 0.25)" in options["title"]
    assert options["methods"] == {"r": "throwaway-walk"}
    assert "floors" not in options  # its accuracy_on_dataset is False


def test_a_oneshot_search_trains_its_mechanism_on_its_space(plugin_env, tmp_path):
    run_dir = tmp_path / "run"
    proc = hwnas(plugin_env, "search", "--space", "throwaway-convs", "--method",
                 "throwaway-softmax", "--estimator", "throwaway-est", "--objectives",
                 "accuracy,params", "--strategy-opt", "epochs=2",
                 "--strategy-opt", "warmup_epochs=1", "--strategy-opt", "train_subset=96",
                 "--strategy-opt", "batch_size=8", "--strategy-opt", "threads=1",
                 "--run-dir", str(run_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    [record] = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert record["strategy"] == "throwaway-softmax"
    assert record["proposal"]["method"] == "throwaway-softmax"
    assert record["proposal"]["setting"] == {}
    folder = run_dir / "strategy" / "setting-00"
    epochs = json.loads((folder / "trajectory.json").read_text())["epochs"]
    assert [e["phase"] for e in epochs] == ["warmup", "search"]
    saved = json.loads((folder / "result.json").read_text())
    assert saved["arch"]["space"] == "throwaway-convs"
    assert saved["alpha_moved"] > 0  # its arch steps ran and moved the distribution


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
    conformance = ROOT / "tests" / "conformance"
    proc = run(plugin_env, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
               *(str(conformance / f"test_{suite}.py")
                 for suite in ("strategies", "options", "spaces", "oneshot")),
               "-k", "throwaway", "-rA")
    assert proc.returncode == 0, proc.stdout[-3000:]
    passed = set(re.findall(r"^PASSED (\S+)", proc.stdout, re.M))
    for test in ("test_strategies.py::test_budget_is_respected_and_deterministic"
                 "[throwaway-walk]",
                 "test_strategies.py::test_unknown_option_is_bad_input[throwaway-softmax]",
                 "test_spaces.py::test_space_round_trip_to_onnxruntime[throwaway-convs]",
                 "test_spaces.py::test_each_op_rebuilds_from_its_signature[throwaway-convs]",
                 "test_spaces.py::test_positions_follow_choices_and_are_profiled"
                 "[throwaway-convs]",
                 "test_oneshot.py::test_trains_one_setting_and_proposes_what_it_derived"
                 "[throwaway-softmax]"):
        assert f"tests/conformance/{test}" in passed, proc.stdout[-3000:]
    # and every option of each: step x 4 invalid values, bias x 5, chunk x 4, the space's x 16
    assert sum("test_options.py::" in t for t in passed) >= 29, proc.stdout[-2000:]
