import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.ops import OpSignature


def test_key_is_generated_from_fields():
    sig = OpSignature("mbconv", 24, 32, 16, 16, kernel=5, stride=2, expand=6)
    assert sig.key == "mbconv|cin=24|cout=32|hw=16|k=5|s=2|e=6"
    assert sig.out_hw == (8, 8)


@given(op=st.sampled_from(["mbconv", "stem", "head", "conv"]),
       cin=st.integers(1, 512), cout=st.integers(1, 512), h=st.integers(1, 256),
       w=st.integers(1, 256), k=st.integers(0, 7), s=st.integers(1, 2), e=st.integers(0, 6),
       n=st.integers(0, 100))
def test_key_round_trips(op, cin, cout, h, w, k, s, e, n):
    sig = OpSignature(op, cin, cout, h, w, kernel=k, stride=s, expand=e, classes=n,
                      extra=(("act", "relu"),))
    assert OpSignature.from_key(sig.key) == sig
    assert OpSignature.from_dict(sig.to_dict()) == sig


def test_bad_signature_and_key():
    with pytest.raises(BadInputError):
        OpSignature("mb|conv", 1, 1, 1, 1)
    with pytest.raises(BadInputError):
        OpSignature("conv", 0, 1, 1, 1)
    with pytest.raises(BadInputError):
        OpSignature.from_key("conv|cin")


def test_arch_is_frozen_canonical_and_hashable():
    a = Arch("proxyless", {"b": "x", "a": "y"})
    b = Arch("proxyless", {"a": "y", "b": "x"})
    assert a == b and hash(a) == hash(b) and a.key == b.key and len(a.key) == 12
    assert str(a) == "proxyless[a=y b=x]"
    assert Arch.from_dict(a.to_dict()) == a
    with pytest.raises(TypeError):
        a.values["a"] = "z"
    assert Arch("proxyless", {"a": "z", "b": "x"}).key != a.key
