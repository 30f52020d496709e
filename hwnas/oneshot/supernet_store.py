"""A trained once-for-all supernet on disk, and whether another run may reuse it.

An ofa run keeps its supernet in its `strategy/` folder: the weights (`supernet.pt`), the
predictor's measured sub-networks (`accuracy_samples.json`) and, written last so that its
presence means the training finished, the record of what it was trained on
(`supernet.json`). A run that reuses it (`--strategy-opt supernet=RUN`) must be searching the
same network on the same images: the held-out split it scores sub-networks on must not be
among those the supernet was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

from hwnas.errors import BadInputError

SUPERNET_FILE, SUPERNET_RECORD = "supernet.pt", "supernet.json"
SAMPLES_FILE = "accuracy_samples.json"
# What a reused supernet must share with the run that reuses it: the network it is, and the
# images it saw.
MUST_MATCH = ("space", "space_config", "dataset", "resolution", "train_subset", "arch_split",
              "kernel_transform")


def reusable(given: str, own: dict) -> tuple[Path, dict]:
    """(supernet.pt, its record) at `given` (an ofa run's folder or its supernet.pt), checked
    against `own` (this run's `trained_on`); one-line refusals."""
    path = Path(given).expanduser()
    candidates = ([path.with_suffix(".json")] if path.suffix == ".pt" else
                  [path / "strategy" / SUPERNET_RECORD, path / SUPERNET_RECORD])
    record_path = next((p for p in candidates if p.is_file()), None)
    if record_path is None:
        raise BadInputError(f"ofa: supernet={given}: no finished ofa supernet there "
                            f"({SUPERNET_RECORD} beside {SUPERNET_FILE}; give an ofa "
                            "run's folder or its strategy/supernet.pt)")
    try:
        record = json.loads(record_path.read_text())
        trained_on = record["trained_on"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BadInputError(f"ofa: {record_path} is not a supernet record; give an ofa "
                            "run's folder") from None
    weights = record_path.with_name(SUPERNET_FILE)
    if not weights.is_file():
        raise BadInputError(f"ofa: {weights} is missing beside {record_path}")
    differ = [k for k in MUST_MATCH if trained_on.get(k) != own[k]]
    if differ:
        said = "; ".join(f"{k}: {trained_on.get(k)!r} there, {own[k]!r} here" for k in differ)
        raise BadInputError(f"ofa: the supernet at {record_path.parent} was trained on "
                            f"another problem ({said}); search it with the same space, "
                            "dataset and --strategy-opt, or train a new one")
    return weights, record
