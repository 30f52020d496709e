"""Benchmark formats: how one kind of tabular benchmark file names its columns and archs."""
