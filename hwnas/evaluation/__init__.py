"""Evaluating candidates: the plain task an evaluator rebuilds from, the scorer (estimator +
cost models), the cheap cost models strategies read, and the evaluator plug-ins."""
