"""Latency-table tooling: profiling, validation and calibration, fill, diff, bundles, imports,
and `export` (an architecture as a proven ONNX file, timed on a profiler backend like a
table's networks). The cost model the tables are read through lives in `hwnas.latency`."""
