"""`fbnet`: FBNet's DNAS, Gumbel-softmax masks over the supernet with the paper's
CE · α · log(LAT)^β loss (mechanism: hwnas.oneshot.methods.fbnet)."""

from __future__ import annotations

from hwnas.oneshot.strategy import COMMON_OPTIONS, OneShotStrategy
from hwnas.options import Option
from hwnas.registry import STRATEGIES


@STRATEGIES.register("fbnet")
class FBNetStrategy(OneShotStrategy):
    """FBNet (DNAS): Gumbel-softmax masks, θ by Adam on held-out batches, latency loss."""

    mechanism = "hwnas.oneshot.methods.fbnet:FBNet"
    option_specs = {
        **COMMON_OPTIONS,
        "tau0": Option(5.0, float, low=0, low_open=True, help="initial Gumbel temperature"),
        "tau_decay": Option(0.045, float, low=0,
                            help="τ is multiplied by exp(-tau_decay) each epoch"),
        "arch_lr": Option(0.01, float, low=0, low_open=True),
        "arch_weight_decay": Option(5e-4, float, low=0),
        "lambda": Option(0.6, float, low=0, help="β of CE·0.2·log(LAT)^β; 0: bare CE"),
    }
