"""Torch helpers shared by estimators, strategies and export: training, BatchNorm
recalibration, model costs (params, FLOPs), ONNX conversion and an ONNX file's own accuracy.
Exporting an architecture (which also times the file on a profiler backend) is
hwnas.tables.export."""
