"""Re-estimate BatchNorm running statistics with a network's current weights."""

from __future__ import annotations

from collections.abc import Iterable


def recalibrate_batchnorm(model, batches: Iterable) -> None:
    """Reset every BN layer's running statistics and re-estimate them as an exact average
    over `batches` (train-mode forwards without gradients), then restore the momenta.

    Needed wherever running statistics do not match the weights: after a short proxy training
    (they mix early and late weights: such nets can score at chance in eval mode) and for an
    untrained network (default mean 0 / variance 1 make a deep net's signal vanish in eval
    mode, so its output stops depending on its input).
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    was_training = model.training
    model.train()
    with torch.no_grad():
        for batch in batches:
            model(batch)
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum
    model.train(was_training)
