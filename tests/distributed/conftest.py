"""One real local Ray for this folder (2 CPUs, a small object store, a custom resource naming a
test device), started once: Ray's start-up takes several seconds on two cores.

The workers get this checkout on their path and the test plug-ins through the job's
environment (runtime_env), so nothing is changed in this process's own environment."""

from __future__ import annotations

import logging
import os

import pytest

from tests.cli.helpers import ROOT
from tests.tabular_helpers import write_synthetic_nb201

DEVICE_RESOURCE = "device:test-box"
PLUGINS = "tests.distributed.held_estimator"


@pytest.fixture(scope="session")
def ray_cluster():
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # pragma: no cover - another fixture's
        ray.shutdown()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    ray.init(address="local", num_cpus=2, resources={DEVICE_RESOURCE: 1},
             object_store_memory=80 * 2**20, include_dashboard=False,
             logging_level=logging.ERROR, log_to_driver=False,
             runtime_env={"env_vars": {"HWNAS_PLUGINS": PLUGINS, "PYTHONPATH": python_path,
                                       "OMP_NUM_THREADS": "1"}},
             # Ray kills a worker that has not registered within 60 s and starts another: on
             # two cores shared with two CPU-bound processes and a second test worker, no
             # worker ever registered in time and a held candidate waited 480 s for one
             _system_config={"worker_register_timeout_seconds": 600})
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def bench_csv(tmp_path_factory):
    """Every nb201 cell (a search may propose any), made-up deterministic values."""
    return write_synthetic_nb201(tmp_path_factory.mktemp("bench") / "bench.csv")
