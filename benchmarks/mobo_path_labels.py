"""Would mobo model NB201 accuracy better from its cell's paths? The family league with the
`nb201` space given four more derived labels, one per input-to-output path of the cell
(0-3, 0-1-3, 0-2-3, 0-1-2-3: the ops along it, or `dead` where one is `none`; the path
encoding of BANANAS, White et al. 2021, as categorical labels), and mobo's Hamming kernel a
third length scale for them (`length_scales=per_group`: the space's labels, its derived
labels, the paths).

Only this process sees the extra labels (the space and mobo are patched here, nothing is
changed in hwnas); every argument goes to benchmarks/family_league.py:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mobo_path_labels.py --budget 100 \\
        --seeds 10 --methods mobo --group two --out DIR

and the same command with benchmarks/family_league.py gives the baseline.
"""

from __future__ import annotations

import itertools
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.spaces import nb201  # noqa: E402
from hwnas.strategies import mobo  # noqa: E402

PATHS = ((0, 3), (0, 1, 3), (0, 2, 3), (0, 1, 2, 3))
OPS = tuple(op for op in nb201.CELL_OPS if op != "none")
PATH_LABELS = [("path_" + "".join(map(str, p)),
                tuple(">".join(c) for c in itertools.product(OPS, repeat=len(p) - 1))
                + ("dead",)) for p in PATHS]
_choices, _derived, _new_gp = (nb201.Nb201Space.derived_choices, nb201.Nb201Space.derived,
                               mobo.new_gp)


def derived_choices(self):
    return _choices(self) + PATH_LABELS


def derived(self, arch):
    out = _derived(self, arch)
    for (label, _), path in zip(PATH_LABELS, PATHS, strict=True):
        ops = [arch.values[f"op_{i}to{j}"] for i, j in itertools.pairwise(path)]
        out[label] = "dead" if "none" in ops else ">".join(ops)
    return out


def new_gp(space, encoder, length_scales, universe=None):
    derived_labels = [label for label, _ in space.derived_choices()]
    paths = [label for label in derived_labels if label.startswith("path_")]
    if not paths or length_scales != "per_group":
        return _new_gp(space, encoder, length_scales, universe)
    groups = [[label for label, _ in space.choices()],
              [label for label in derived_labels if label not in paths], paths]
    return mobo.GroupedHammingGP([(encoder.columns(g), len(g)) for g in groups], universe)


if __name__ == "__main__":
    nb201.Nb201Space.derived_choices, nb201.Nb201Space.derived = derived_choices, derived
    mobo.new_gp = new_gp
    sys.argv = [str(ROOT / "benchmarks" / "family_league.py"), *sys.argv[1:]]
    runpy.run_path(sys.argv[0], run_name="__main__")
