"""Search spaces; each module registers itself in `hwnas.registry.SPACES`."""

from hwnas.spaces.base import Position, SearchSpace

__all__ = ["Position", "SearchSpace"]
