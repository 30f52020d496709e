"""Shared fixtures: a tiny proxyless space and a small measured table, built once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

TINY_SPACE = {"resolution": 16, "width_mult": 0.25}


@pytest.fixture(scope="session")
def tiny_space():
    from hwnas.spaces.proxyless import ProxylessSpace

    return ProxylessSpace(**TINY_SPACE)


@pytest.fixture(scope="session")
def tiny_table_path(tmp_path_factory, tiny_space):
    """A real ort-cpu table of the tiny space, measured with a short timing budget."""
    from hwnas.tables.profile import profile_ops
    from profilers import TimingConfig

    table = profile_ops(tiny_space, tiny_space.all_ops(), "ort-cpu", threads=1,
                        timing=TimingConfig(time_budget_s=0.05, max_repeats=30))
    return table.save(tmp_path_factory.mktemp("tables") / "tiny-ort-cpu.json")
