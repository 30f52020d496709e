"""Torch helpers shared by estimators and export: training, BatchNorm recalibration, model
costs (params, FLOPs), ONNX."""
