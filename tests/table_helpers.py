"""Shared by table tests: a copy of a measured table with some entries removed."""

from __future__ import annotations

import json


def partial_table(tmp_path, source, drop: int, device: str | None = None):
    """Write `source` without its first `drop` entries (sorted by key) to tmp_path/partial.json;
    `device` renames the table's CPU, to make it look measured elsewhere."""
    raw = json.loads(source.read_text())
    removed = sorted(raw["entries"])[:drop]
    for key in removed:
        del raw["entries"][key]
    if device:
        raw["device"]["cpu"] = device
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(raw))
    return path, removed
