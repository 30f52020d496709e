"""Latency cost models: tables of measured per-op latency, and how they are made."""

from hwnas.latency.table import LatencyTable

__all__ = ["LatencyTable"]
