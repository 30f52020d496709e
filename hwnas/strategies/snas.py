"""`snas`: SNAS, concrete samples of the architecture with weights and α updated by one
backward pass, and a resource penalty (mechanism: hwnas.oneshot.methods.snas)."""

from __future__ import annotations

from hwnas.oneshot.strategy import COMMON_OPTIONS, OneShotStrategy
from hwnas.options import Option
from hwnas.registry import STRATEGIES

RESOURCE_GRADS = ("pathwise", "reinforce")  # kept here: this file must not import torch


@STRATEGIES.register("snas")
class SnasStrategy(OneShotStrategy):
    """SNAS: Gumbel (concrete) samples, one joint update, λ·cost/T penalty."""

    mechanism = "hwnas.oneshot.methods.snas:Snas"
    option_specs = {
        **COMMON_OPTIONS,
        "tau0": Option(1.0, float, low=0, low_open=True, help="temperature at the first epoch"),
        "tau_end": Option(0.03, float, low=0, low_open=True,
                          help="temperature at the last epoch (linear in between)"),
        "resource_grad": Option("pathwise", str, choices=RESOURCE_GRADS,
                                help="the penalty's α gradient: through the sample, or "
                                     "the policy gradient per position"),
        "arch_lr": Option(3e-4, float, low=0, low_open=True),
        "arch_weight_decay": Option(1e-3, float, low=0),
        "lambda": Option(0.1, float, low=0, help="weight of the cost penalty λ·C(Z)/T"),
    }
