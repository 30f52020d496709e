"""How a controller's policy is updated from rewarded samples: REINFORCE or PPO, in one place.

Every learning controller of hwnas (`reinforce`, `enas`, and `renas`'s mutation controller)
turns a told batch into advantages A = R - b with the same moving-average baseline
(`baseline_advantages`: b <- b - (1 - decay)(b - R), started at the first reward) and then
calls `policy_step`, which does one of:

* `update=reinforce` (the default, Williams 1992 as Zoph & Le use it): one Adam step on
      loss = -mean_i A_i log pi(a_i) - entropy_weight * mean_i H_i
* `update=ppo` (Proximal Policy Optimization, Schulman et al. 2017, the update NASNet's
  controller is trained with, Zoph et al. 2018): the batch's decisions and the log-probabilities
  they had when sampled (`old_logp`) are kept, and for `ppo_epochs` epochs (4) the batch is
  cut into minibatches of `ppo_minibatch` samples (None: the whole batch; shuffled each epoch
  when there are several), each one Adam step on
      loss = -mean_i min(r_i A_i, clip(r_i, 1 - eps, 1 + eps) A_i) - entropy_weight * mean_i H_i
  with r_i = pi(a_i) / pi_old(a_i) and eps = `ppo_clip` (0.2, the PPO paper's). The advantages
  stay those of the batch (the baseline moves once per batch, as on the REINFORCE path).

At r = 1 (the first minibatch of the first epoch, when nothing moved the policy since
sampling) the surrogate's gradient is A * grad log pi: the REINFORCE gradient. Past the clip in
the direction of its advantage (r > 1 + eps with A > 0, r < 1 - eps with A < 0) a sample's
gradient is zero, which is what bounds how far K epochs move the policy from the one that
sampled. A sample whose log-probability at sampling was not kept (ENAS's controller steps learn
from the architecture just drawn) gets the current policy's, exact when nothing moved it since.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

# evaluate(indices) -> (log pi(a_i), H_i) for those samples of the batch, with gradients
Evaluate = Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor]]


def reinforce_loss(logp: torch.Tensor, advantages: torch.Tensor, entropy: torch.Tensor,
                   entropy_weight: float) -> torch.Tensor:
    """-mean (A_i log pi_i) - entropy_weight * mean H_i."""
    return -(advantages * logp).mean() - entropy_weight * entropy.mean()


def clipped_surrogate(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                      clip: float) -> torch.Tensor:
    """PPO's objective to MAXIMISE: mean min(r A, clip(r, 1-eps, 1+eps) A), r = exp(logp -
    old_logp) (the ratio taken in log space: a product of many small probabilities)."""
    ratio = torch.exp(logp - old_logp.detach())
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return torch.minimum(ratio * advantages, clipped * advantages).mean()


def policy_step(optimizer: torch.optim.Optimizer, evaluate: Evaluate, advantages,
                options: dict, *, entropy_weight: float,
                old_logp: Sequence[float | None] | None = None,
                generator: torch.Generator | None = None) -> None:
    """Update the policy on one told batch (module docstring): one REINFORCE step, or PPO's
    epochs of clipped-surrogate minibatch steps. `options` holds the UPDATE_OPTIONS;
    `generator` shuffles PPO's minibatches (only drawn from when there are several)."""
    adv = torch.as_tensor(np.asarray(advantages, dtype=np.float64))
    n = len(adv)
    if n == 0:
        return
    if options["update"] == "reinforce":
        optimizer.zero_grad()
        logp, entropy = evaluate(np.arange(n))
        reinforce_loss(logp, adv.to(logp.dtype), entropy, entropy_weight).backward()
        optimizer.step()
        return
    old = _old_logp(evaluate, n, old_logp)
    size = options["ppo_minibatch"] or n
    for _ in range(options["ppo_epochs"]):
        order = (torch.arange(n) if size >= n
                 else torch.randperm(n, generator=generator))
        for start in range(0, n, size):
            idx = order[start:start + size]
            optimizer.zero_grad()
            logp, entropy = evaluate(idx.numpy())
            objective = clipped_surrogate(logp, old[idx].to(logp.dtype),
                                          adv[idx].to(logp.dtype), options["ppo_clip"])
            (-objective - entropy_weight * entropy.mean()).backward()
            optimizer.step()


def _old_logp(evaluate: Evaluate, n: int, kept: Sequence[float | None] | None) -> torch.Tensor:
    """The log-probabilities the samples had when drawn; the current policy's where not kept."""
    given: list[float | None] = list(kept) if kept is not None else [None] * n
    if any(v is None for v in given):
        with torch.no_grad():
            now = evaluate(np.arange(n))[0].double()
        given = [float(now[i]) if v is None else v for i, v in enumerate(given)]
    return torch.tensor(given, dtype=torch.float64)
