"""RewardedStrategy: what every scalar-reward controller shares (reinforce, metaqnn).

The reward options and their cross-checks (hwnas.rewards), one decision per label of
`space.choices()` (a space without any is refused in one line), and the `Rewarder` that turns a
result into the controller's reward. Not registered: a base for strategies that are.
"""

from __future__ import annotations

from hwnas.errors import BadInputError
from hwnas.rewards import READS_TARGET, REWARD_OPTIONS, Rewarder, check_reward_options
from hwnas.strategies.base import Strategy

__all__ = ["REWARD_OPTIONS", "RewardedStrategy"]


class RewardedStrategy(Strategy):
    @classmethod
    def check_options(cls, resolved: dict) -> None:
        check_reward_options(cls.owner(), resolved)

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        self._choices = space.choices()
        if not self._choices:
            raise BadInputError(f"{self.owner()} needs a space with at least one choice; "
                                f"space {space.name!r} has none")
        self.rewarder = Rewarder(self.objectives, self.options, space=space, costs=self.costs,
                                 seed=seed)

    def reads_target(self) -> bool:
        return self.options["reward"] in READS_TARGET
