"""Accuracy estimators; each module registers itself in `hwnas.registry.ESTIMATORS`."""

from hwnas.estimators.base import Estimate, Estimator

__all__ = ["Estimate", "Estimator"]
