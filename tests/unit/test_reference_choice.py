"""Which op becomes a table's reference workload (hwnas.tables.reference.choose_reference)."""

import pytest

from hwnas.tables import reference
from profilers import Measurement


class ByKey:
    """A fake backend timing each op by its key (the module is the signature itself)."""

    input_format = "torch"

    def __init__(self, ms_by_key):
        self.ms_by_key = ms_by_key

    def measure(self, sig, input_shape):
        ms = self.ms_by_key[sig.key]
        return Measurement(p50=ms, p90=ms, mean=ms, std=0.0, n=10)


@pytest.fixture
def sigs(tiny_space, monkeypatch):
    monkeypatch.setattr(reference, "build_model", lambda backend, space, sig: sig)
    # as many ops as are probed, so every one is: the choice is exact
    return sorted(tiny_space.all_ops(), key=lambda s: s.key)[:reference.PROBE_OPS]


def _choose(tiny_space, sigs, times):
    backend = ByKey({s.key: t for s, t in zip(sigs, times, strict=True)})
    return sigs.index(reference.choose_reference(backend, tiny_space, sigs))


def test_the_median_op_when_it_is_long_enough(tiny_space, sigs):
    times = [0.2 + 0.1 * i for i in range(len(sigs))]
    assert _choose(tiny_space, sigs, times) == (len(sigs) - 1) // 2


def test_a_median_of_call_overhead_gives_way_to_the_fastest_long_enough_op(tiny_space, sigs):
    times = [0.02] * len(sigs)
    times[-1], times[-2] = 0.5, 0.15  # two ops do real work; the median is a 20 us op
    assert _choose(tiny_space, sigs, times) == len(sigs) - 2


def test_the_slowest_op_when_none_is_long_enough(tiny_space, sigs):
    times = [0.01 + 0.001 * i for i in range(len(sigs))]
    times[0] = 0.05
    assert _choose(tiny_space, sigs, times) == 0
