"""The plain-data contracts between the layers, at the bottom so every layer may import them:
what an evaluator returns (`outcome`), how a failed candidate's result looks (`failure`), the
cheap costs a strategy may read (`costs`) and what a training strategy is given (`context`).
No module here imports a feature package, torch or pymoo."""
