"""Latency-table tooling: profiling, validation and calibration, fill, diff, bundles, imports.
The cost model the tables are read through lives in `hwnas.latency`."""
