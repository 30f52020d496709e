"""What a search's progress events do to its bar (`hwnas search`, `hwnas demo`).

Events (hwnas.api.search, the strategies): "notice" (a line for the user), "start" (inputs
checked: the bar is drawn now, not after the first candidate), "candidate" (one evaluation of
the budget; "replayed" when a resumed run tells it again), and a strategy's own steps, such as
a one-shot supernet's "epoch".

A one-shot sweep (proxyless, darts, fbnet, snas: events with "settings") trains a supernet per
setting inside the strategy, so its candidates are few and far apart: the bar counts an epoch
as a share of its setting's candidate and says `setting k/n epoch e/E`, and its ETA covers
the whole sweep. A weight-sharing search (ENAS, SPOS: epochs without "settings") searches once,
then proposes several candidates: the search is not the time of a candidate, so the ETA is
timed from its first candidate on.
"""

from __future__ import annotations

from collections.abc import Callable

from hwnas.cli.progress import ProgressDisplay


class SearchProgress:
    """Callable as a search's `progress`: events to bar updates and notes."""

    def __init__(self, bar: ProgressDisplay, task: int, info: Callable[[dict], str], *,
                 echo_epochs: bool = True):
        self.bar, self.task, self.info = bar, task, info
        self.echo_epochs = echo_epochs  # each epoch's summary as a line of its own
        self.budget: int | None = None
        self.done = 0
        self.searched_once = False  # a weight-sharing search's epochs came before candidates

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "notice":
            # one prefix: "hwnas: warning: ..." or "hwnas: note: ...", never both
            self.bar.note(f"hwnas: {event.get('level', 'note')}: {event['summary']}")
        elif kind == "start":
            self.budget = event.get("budget")
            self.bar.update(self.task, total=self.budget)
            self.bar.begin()
        elif kind == "candidate":
            self._candidate(event)
        elif kind == "epoch" and "settings" in event and "epochs" in event:
            self._sweep_epoch(event)
        elif event.get("summary"):  # another strategy step: its summary, on the bar
            if kind == "epoch":
                self.searched_once = True
            self._echo(event)
            self.bar.update(self.task, info=event["summary"])

    def _candidate(self, event: dict) -> None:
        if event.get("counted") is False:  # ruled out by a known cost: no evaluation spent
            self.bar.update(self.task, info=self.info(event["record"]["result"]))
            return
        self.done += 1
        self.budget = event.get("budget", self.budget)
        # a replayed candidate is not work done now; nor is a weight-sharing search the time
        # of its first candidate
        timed = not event.get("replayed") and not self.searched_once
        self.searched_once = False
        self.bar.update(self.task, total=self.budget, completed=self.done, timed=timed,
                        info=self.info(event["record"]["result"]))

    def _sweep_epoch(self, event: dict) -> None:
        k, epochs = int(event["setting_index"]), int(event["epochs"])
        epoch = int(event["epoch"]) + 1
        settings = int(event["settings"])
        if self.budget:  # a budget below the sweep's size stops after `budget` settings
            settings = min(settings, int(self.budget))
        self._echo(event)
        # the setting's candidate is evaluated after its last epoch: it counts as one more
        # epoch's worth, so the bar says "done" when the run is, not when the supernet is
        self.bar.update(self.task, completed=k + epoch / (epochs + 1),
                        count=f"setting {k + 1}/{settings} epoch {epoch}/{epochs}",
                        info="" if self.echo_epochs else event.get("summary", ""))

    def _echo(self, event: dict) -> None:
        if self.echo_epochs and event.get("event") == "epoch" and not self.bar.quiet:
            self.bar.console.print(event["summary"], highlight=False, markup=False)


def result_info(objectives: list[str]) -> Callable[[dict], str]:
    """A candidate's result as the bar shows it: its objectives, or why it failed."""

    def info(result: dict) -> str:
        if "failed" in result:
            return f"failed: {result['failed'][:60]}"
        if "infeasible" in result:
            return f"infeasible: {result['infeasible'][:60]}"
        return "  ".join(f"{o} {result[o]:.4g}" for o in objectives if o in result)

    return info
