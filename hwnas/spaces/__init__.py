"""Search spaces; each module registers itself in `hwnas.registry.SPACES`."""

from hwnas.spaces.base import SearchSpace

__all__ = ["SearchSpace"]
