"""Gumbel and concrete (Gumbel-softmax) distributions, shared by SNAS and FBNet: samples drawn
with a method's own generator, and the concrete distribution's log-density."""

from __future__ import annotations

import math

import torch


def gumbel_noise(shape, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """−log(−log U), U uniform, drawn with `generator` (on the CPU, so runs repeat on any
    device) and returned as `like`'s dtype and device."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    u = u.clamp(torch.finfo(torch.float64).tiny, 1.0)  # log(0) would make the noise −inf
    return (-torch.log(-torch.log(u))).to(dtype=like.dtype, device=like.device)


def concrete_sample(logits: torch.Tensor, tau: float,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(Z, log Z): a relaxed one-hot sample softmax((logits + g) / τ) and its logarithm
    (taken from the log-softmax, finite even where Z underflows at small τ)."""
    scores = (logits + gumbel_noise(logits.shape, generator, logits)) / tau
    return torch.softmax(scores, -1), torch.log_softmax(scores, -1)


def concrete_log_density(logits: torch.Tensor, log_z: torch.Tensor, tau: float) -> torch.Tensor:
    """log p(z; α, τ) of the concrete distribution with location exp(logits), n categories:

        log (n−1)! + (n−1) log τ + Σ_k (a_k − (τ+1) log z_k) − n log Σ_k exp(a_k − τ log z_k)
    """
    n = logits.shape[-1]
    return (math.lgamma(n) + (n - 1) * math.log(tau)
            + (logits - (tau + 1) * log_z).sum(-1)
            - n * torch.logsumexp(logits - tau * log_z, -1))
