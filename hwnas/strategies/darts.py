"""`darts`: DARTS, softmax-relaxed supernet, first or second order, with the table's expected
cost in the validation loss (mechanism: hwnas.oneshot.methods.darts)."""

from __future__ import annotations

from hwnas.oneshot.losses import LATENCY_LOSSES
from hwnas.oneshot.strategy import COMMON_OPTIONS, OneShotStrategy
from hwnas.options import Option
from hwnas.registry import STRATEGIES


@STRATEGIES.register("darts")
class DartsStrategy(OneShotStrategy):
    """DARTS: softmax-weighted mixed ops, α by gradient (1st/2nd order), E[latency] penalty."""

    mechanism = "hwnas.oneshot.methods.darts:Darts"
    option_specs = {
        **COMMON_OPTIONS,
        "order": Option(1, int, choices=(1, 2), help="1: first order; 2: unrolled"),
        "arch_lr": Option(3e-4, float, low=0, low_open=True),
        "arch_weight_decay": Option(1e-3, float, low=0),
        "latency_loss": Option("add_linear", str, choices=LATENCY_LOSSES),
        "lambda": Option(0.1, float, low=0, help="weight of the latency term"),
    }
