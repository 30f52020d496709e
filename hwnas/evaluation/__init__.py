"""Evaluating candidates: the plain task an evaluator rebuilds from, the scorer (estimator +
cost models), and the evaluator plug-ins (`evaluators/`, with what a Ray worker runs). What an
evaluator returns and the cheap costs strategies read are plain data in hwnas.core."""
