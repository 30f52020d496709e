"""The latency cost model: a table of measured per-op costs and how a network's latency (and
energy, peak memory) is read from it, calibration included. Making, checking and moving tables
is `hwnas.tables`."""

from hwnas.latency.table import LatencyTable

__all__ = ["LatencyTable"]
