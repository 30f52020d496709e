"""hwnas chooses the threads of a strategy's own work (hwnas.threads), not the environment."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np
    from threadpoolctl import threadpool_info

    from hwnas.objectives import parse_objectives
    from hwnas.core.outcome import Outcome
    from hwnas.searching.loop import run_loop
    from hwnas.spaces.nb201 import Nb201Space
    from hwnas.strategies import pnas
    from hwnas.threads import preload

    preload()  # numpy's and scipy's OpenBLAS, scikit-learn's OpenMP
    import torch  # loaded: its intra-op threads are limited too

    def pools():
        return sorted({i["num_threads"] for i in threadpool_info()})

    seen = []
    fit = pnas.EnsembleSurrogate.fit

    def probe_fit(self, archs, Y):  # a strategy's model fit, as the loop drives it
        seen.append({"pools": pools(), "torch": torch.get_num_threads()})
        return fit(self, archs, Y)

    pnas.EnsembleSurrogate.fit = probe_fit
    space = Nb201Space()
    objs = parse_objectives("accuracy:cifar10,latency:pixel3")

    class Lookup:  # the evaluator: it must see the process's threads, not the strategy's
        evaluator_pools = []

        def map(self, archs):
            self.evaluator_pools.append(pools())
            out = []
            for a in archs:
                x = space.encode(a)
                out.append(Outcome({"accuracy:cifar10": float(x.sum()),
                                    "latency:pixel3": float((x ** 2).sum())}))
            return out

    before = {"pools": pools(), "torch": torch.get_num_threads()}
    strategy = pnas.PNAS(space, objs, seed=0, n_init=6, k=4, n_models=1, hidden=8)
    run_loop(strategy, Lookup(), 14, batch=2)
    after = {"pools": pools(), "torch": torch.get_num_threads()}
    print(json.dumps({"before": before, "fits": seen, "after": after,
                      "evaluator": Lookup.evaluator_pools}))
""")


def test_strategy_fits_run_on_one_thread_whatever_the_environment():
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env["OMP_NUM_THREADS"] = "64"  # what a user's environment might ask for: not 1
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert max(got["before"]["pools"]) > 1 and got["before"]["torch"] > 1  # OpenMP: 64
    assert got["fits"], "the strategy never fitted its surrogate"
    for fit in got["fits"]:  # every BLAS/OpenMP pool and torch: one thread inside a fit
        assert fit == {"pools": [1], "torch": 1}
    # the evaluator keeps the process's threads
    assert all(p == got["before"]["pools"] for p in got["evaluator"])
    assert got["after"] == got["before"]  # the process's own limits restored


def test_limit_threads_restores_and_none_leaves_alone():
    from threadpoolctl import threadpool_info, threadpool_limits

    from hwnas.threads import limit_threads, preload, strategy_threads

    preload()

    def pools():
        return {i["num_threads"] for i in threadpool_info()}

    with threadpool_limits(2):
        with limit_threads():
            assert pools() == {1}
            with limit_threads(None):
                assert pools() == {1}
        assert pools() == {2}
        with limit_threads(None):
            assert pools() == {2}
        try:
            with limit_threads():
                raise KeyError
        except KeyError:
            pass
        assert pools() == {2}

    class OneShot:
        sample_based = False

    assert strategy_threads(OneShot()) is None  # trains a supernet: its own `threads`
    assert strategy_threads(object()) == 1
