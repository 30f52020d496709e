"""Evaluating candidates: the scorer (estimator + cost models) and evaluator plug-ins."""
