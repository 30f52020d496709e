"""`proxyless`: ProxylessNAS, binary gates over sampled paths (two or all gated) or REINFORCE,
with the table's expected latency in the loss (mechanism: hwnas.oneshot.methods.proxylessnas).
"""

from __future__ import annotations

from hwnas.limits import MAX_POPULATION
from hwnas.oneshot.losses import LATENCY_LOSSES
from hwnas.oneshot.strategy import COMMON_OPTIONS, OneShotStrategy
from hwnas.options import Option
from hwnas.registry import STRATEGIES

MODES = ("two", "full", "reinforce")


@STRATEGIES.register("proxyless")
class ProxylessNASStrategy(OneShotStrategy):
    """ProxylessNAS: one sampled path per step, α by binary-gate gradients or REINFORCE."""

    mechanism = "hwnas.oneshot.methods.proxylessnas:ProxylessNAS"
    option_specs = {
        **COMMON_OPTIONS,
        "mode": Option("two", str, choices=MODES,
                       help="two: gates on two sampled paths; full: on all; reinforce: policy "
                            "gradient"),
        "arch_lr": Option(1e-3, float, low=0, low_open=True, help="Adam, betas (0, 0.999)"),
        "latency_loss": Option("mul_log", str, choices=LATENCY_LOSSES),
        "lambda": Option(0.3, float, low=0,
                         help="β of mul_log, λ of add_linear (gradient modes)"),
        "n_samples": Option(4, int, low=1, high=MAX_POPULATION,
                            help="architectures per REINFORCE step"),
        "reward_w": Option(-0.07, float, high=0,
                           help="REINFORCE reward ACC·(LAT/T)^w"),
    }
