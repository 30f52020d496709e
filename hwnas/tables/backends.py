"""Expose the standalone `profilers` backends through hwnas's PROFILERS registry."""

from __future__ import annotations

import profilers
from hwnas.registry import PROFILERS

for _name, _cls in sorted(profilers.BACKENDS.items()):
    PROFILERS.register(_name)(_cls)
