"""Bayesian-optimisation building blocks (GP, EHVI) shared by model-based strategies."""
