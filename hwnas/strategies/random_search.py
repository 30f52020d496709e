"""Random search: uniform samples of the space, without repeats while repeats are avoidable.

Hard limits by rejection: a sample that breaks a limit on a cost known before training (the
run's `--constraint` on table latency, params, ...) is drawn again (`Strategy.draw_feasible`),
so what is proposed is uniform over the feasible part of the space.

Warm start (`--warm-start`): it learns nothing from results, but the earlier runs' candidates
count as seen, so it samples the rest of the space (no repeats while avoidable)."""

from __future__ import annotations

from hwnas.arch import Arch
from hwnas.limits import MAX_STEPS
from hwnas.options import Option
from hwnas.registry import STRATEGIES
from hwnas.strategies.base import Strategy


@STRATEGIES.register("random")
class RandomSearch(Strategy):
    """Uniform random samples, no repeats while avoidable."""

    plot_style = {"color": "#7f7f7f", "marker": "o"}
    batch_independent = True
    takes_warm_start = True

    option_specs = {"max_retries": Option(100, int, low=0, high=MAX_STEPS)}

    def __init__(self, space, objectives, seed=0, **options):
        super().__init__(space, objectives, seed, **options)
        self._seen: set[str] = set()

    def ask(self, n: int = 1) -> list[Arch]:
        out = []
        for _ in range(n):
            arch = self._draw()
            for _ in range(self.options["max_retries"]):
                if arch.key not in self._seen:
                    break
                arch = self._draw()
            self._seen.add(arch.key)
            out.append(arch)
        return out

    def warm_start(self, archs: list[Arch], results: list[dict]) -> None:
        super().warm_start(archs, results)
        self._seen.update(a.key for a in archs)

    def _draw(self) -> Arch:
        return self.draw_feasible(lambda: self.space.sample(self.rng))
