"""Gradient-based (one-shot) search: supernets built from a space's positions, the table's
expected cost as a differentiable term, the shared training loop and derivation. Each method is
one file in hwnas/strategies/: its mechanism (a `method.OneShotMethod`) beside its strategy
(options, registration)."""
