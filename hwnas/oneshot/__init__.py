"""Gradient-based (one-shot) search: supernets built from a space's positions, the table's
expected cost as a differentiable term, the shared training loop and derivation. Each method's
mechanism is a module in `methods/`; its strategy (options, registration) a file in
hwnas/strategies/."""
