import pytest

from hwnas.errors import BadInputError, MissingLatencyError
from hwnas.registry import ESTIMATORS, PROFILERS, SPACES, STRATEGIES, Registry


def test_registries_hold_the_builtins():
    assert "proxyless" in SPACES.names()
    assert {"random", "evolution"} <= set(STRATEGIES.names())
    assert "scratch" in ESTIMATORS.names()
    assert {"torch-cpu", "ort-cpu"} <= set(PROFILERS.names())


def test_unknown_name_names_the_closest():
    with pytest.raises(BadInputError) as err:
        SPACES.get("proxyles")
    msg = str(err.value)
    assert "'proxyless'" in msg and "allowed" in msg and "\n" not in msg


def test_double_registration_is_refused():
    reg = Registry("thing")

    @reg.register("a")
    class A:
        pass

    with pytest.raises(ValueError):
        reg.register("a")(type("B", (), {}))
    assert reg.get("a") is A


def test_missing_latency_error_names_keys_and_command():
    err = MissingLatencyError(["k1", "k2", "k3", "k4"], "t.json", "hwnas profile --space x")
    text = str(err)
    assert "4 op(s)" in text and "k1" in text and "+1 more" in text
    assert "hwnas profile --space x" in text and isinstance(err, BadInputError)
