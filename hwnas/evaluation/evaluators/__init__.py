"""Evaluator plug-ins: `map(archs) -> outcomes` in the order asked; each module registers one."""
