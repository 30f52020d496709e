"""Proposals made a model step at a time and handed out n at a time (mobo, PNAS, DPP-Net).

A step is computed only once every proposal of the steps before has its result told, as
NSGA-II computes a generation only from a whole population: what a strategy proposes then
depends on the results alone, not on how many architectures the loop asks for at once.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable

from hwnas.arch import Arch


class StepQueue:
    """`step()` returns the next step's proposals (never empty); `hand_out(arch)` is told of
    each architecture as it leaves the queue."""

    def __init__(self, step: Callable[[], list[Arch]], hand_out: Callable[[Arch], None]):
        self._step, self._hand_out = step, hand_out
        self._queue: deque[Arch] = deque()
        self._pending: Counter[str] = Counter()  # handed out, result not told yet

    def ask(self, n: int) -> list[Arch]:
        """Up to n architectures; fewer when the next step waits for results not told yet."""
        out = []
        while len(out) < n:
            if not self._queue:
                if self._pending:
                    break
                self._queue.extend(self._step())
            arch = self._queue.popleft()
            self._hand_out(arch)
            self._pending[arch.key] += 1
            out.append(arch)
        return out

    def told(self, arch: Arch) -> None:
        """One result of `arch` is in (an architecture never handed out changes nothing)."""
        if self._pending.get(arch.key):
            self._pending[arch.key] -= 1
            if not self._pending[arch.key]:
                del self._pending[arch.key]
