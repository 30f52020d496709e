"""A test plug-in: the local evaluator with a pause before each candidate, so a test can kill a
search (or start a second writer) while it is certainly running. Registered when imported;
subprocesses get it through HWNAS_PLUGINS=tests.reliability.paced_evaluator."""

from __future__ import annotations

import time

from hwnas.evaluation.evaluators.local import LocalEvaluator
from hwnas.options import Option
from hwnas.registry import EVALUATORS

NAME = "test-paced"

if NAME not in EVALUATORS.names():
    @EVALUATORS.register(NAME)
    class PacedEvaluator(LocalEvaluator):
        """`local`, one candidate at a time, `pause` seconds before each."""

        option_specs = {"pause": Option(0.0, float, low=0.0, high=5.0)}

        def map(self, archs):
            out = []
            for arch in archs:
                time.sleep(self.options["pause"])
                out.extend(super().map([arch]))
            return out
