"""`hwnas export`'s careful re-timing (hwnas.tables.retime) on a fake backend whose speed we
control: the network's time comes back at the table's speed, and a burst of load in one pass
is dropped by the median over passes."""

import numpy as np
import pytest

from hwnas.tables.profile import profile_ops
from hwnas.tables.retime import reference_usable, retime
from tests.unit.test_drift import NOISE, FakeBackend


class BurstOnce(FakeBackend):
    """The fake, with the `at`-th measurement `factor` times slower (a burst of load)."""

    def __init__(self, at: int, factor: float = 1.4, **kw):
        super().__init__(**kw)
        self.at, self.factor = at, factor

    def measure(self, model, input_shape):
        m = super().measure(model, input_shape)
        if self.calls != self.at:
            return m
        ms = m.p50 * self.factor
        return type(m)(p50=ms, p90=ms, mean=ms, std=0.0, n=m.n)


@pytest.fixture(scope="module")
def table(tiny_space):
    return profile_ops(tiny_space, tiny_space.all_ops(), "fake", threads=1,
                       backend=FakeBackend(seed=1))


@pytest.fixture(scope="module")
def network(tiny_space):
    import torch

    torch.manual_seed(0)
    return tiny_space.build(tiny_space.default_arch()).eval()


def test_a_slower_machine_reads_at_the_tables_speed(table, tiny_space, network):
    fake = FakeBackend(seed=4, speed=1.2)  # 20% slower than when the table was profiled
    truth = fake.true_ms(network)  # at speed 1.0, the table's reference speed
    out = retime(fake, tiny_space, network, tiny_space.input_shape, table, rounds=3)
    assert out["rounds"] == 3 and len(out["raw_ms"]) == len(out["normalised_ms"]) == 3
    assert abs(np.log(out["ms"] / truth)) < 3 * NOISE
    assert abs(np.log(np.median(out["raw_ms"]) / (1.2 * truth))) < 3 * NOISE
    assert out["speed_change"] == pytest.approx(0.2, abs=0.06)


def test_the_median_over_passes_drops_a_burst(table, tiny_space, network):
    # measurements: reference (call 1), network (2), reference (3), network (4), ...
    truth = FakeBackend().true_ms(network)
    once = retime(BurstOnce(at=2, seed=5), tiny_space, network, tiny_space.input_shape, table,
                  rounds=1)
    passes = retime(BurstOnce(at=2, seed=5), tiny_space, network, tiny_space.input_shape,
                    table, rounds=3)
    assert np.log(once["ms"] / truth) > np.log(1.4) - 3 * NOISE  # one pass: the burst counts
    assert abs(np.log(passes["ms"] / truth)) < 3 * NOISE


def test_the_reference_is_used_only_under_the_tables_conditions(table):
    assert reference_usable(table, FakeBackend()) is None
    two = FakeBackend()
    two.threads = 2
    assert "threads" in reference_usable(table, two)
    other = FakeBackend()
    other.fingerprint = lambda: {"cpu": "Other CPU", "backend": "fake"}
    assert "device" in reference_usable(table, other)
    bare = type(table).from_dict({**table.to_dict(), "reference": None})
    assert "no reference workload" in reference_usable(bare, FakeBackend())
