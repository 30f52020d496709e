"""Training-time augmentation on in-memory image batches: random translation and mirroring.

Final training runs for many epochs on small datasets (digits has ~1,150 training images), where
a network memorises its images without augmentation. The standard CIFAR recipe: pad by an eighth
of the side, crop back at a random offset, mirror half the images. Digits are not mirrored
(a mirrored 3 is no digit). Everything is drawn from a `torch.Generator` the caller owns, so a
resumed training draws the same crops as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Datasets whose images keep their meaning when mirrored left-right.
MIRRORABLE = ("cifar10", "imagefolder")


@dataclass(frozen=True)
class Augment:
    """`pad` pixels of translation each way; `mirror`: flip half the images left-right;
    `fill`: per-channel value of a black pixel after normalisation (the padding's value)."""

    pad: int
    mirror: bool
    fill: tuple[float, ...]

    @classmethod
    def for_dataset(cls, kind: str, resolution: int, mean, std) -> Augment:
        fill = tuple(-m / s for m, s in zip(mean, std, strict=True))
        return cls(pad=max(1, resolution // 8), mirror=kind in MIRRORABLE, fill=fill)

    def describe(self) -> str:
        return (f"random crop (pad {self.pad})" + (", left-right mirror" if self.mirror else ""))

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A new augmented batch (x is left alone); draws on `generator` (a CPU generator)."""
        n, c, h, w = x.shape
        fill = torch.tensor(self.fill, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
        p = self.pad
        padded = F.pad(x - fill, (p, p, p, p)) + fill
        dy = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        samples = torch.arange(n, device=x.device)[:, None, None, None]
        channels = torch.arange(c, device=x.device)[None, :, None, None]
        out = padded[samples, channels, rows, cols]
        if self.mirror:
            flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
            out[flip] = out[flip].flip(-1)
        return out
