"""Tabular NAS benchmarks (one row per architecture) and the formats hwnas can read."""
