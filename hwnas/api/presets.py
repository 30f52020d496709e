"""Named settings of an estimator's options: `hwnas search --preset fast`.

The scratch estimator's own defaults (3 epochs on every training image at the space's
resolution) are what a real comparison wants, and can take minutes per candidate on a small
CPU (315 s for the first proxyless candidate on 2 cores). `fast` is the setting `hwnas demo`
runs: 2 epochs on a fixed subset of 768 images at 16x16, seconds per candidate on digits
(8x8 images, so nothing is lost by 16x16); its accuracies rank networks coarsely. `paper` names
the estimator's own defaults, so that a command line can say which one it means.
Options given with `--estimator-opt` always win over a preset's.
"""

from __future__ import annotations

from hwnas.errors import BadInputError

ESTIMATOR_PRESETS: dict[str, dict[str, dict]] = {
    "scratch": {
        "fast": {"epochs": 2, "resolution": 16, "train_subset": 768},
        "paper": {},
    },
}
PRESET_NAMES = ("fast", "paper")


def apply_preset(estimator: str, preset: str | None, options: dict) -> dict:
    """`options` over the preset's values for `estimator` (a new dict); refused in one line
    when that estimator has no such preset."""
    if preset is None:
        return dict(options)
    presets = ESTIMATOR_PRESETS.get(estimator)
    if presets is None or preset not in presets:
        having = ", ".join(sorted(ESTIMATOR_PRESETS))
        raise BadInputError(f"--preset {preset} applies to the estimator(s) {having}, not "
                            f"{estimator!r}; drop --preset, or set its options with "
                            "--estimator-opt KEY=VALUE (see `hwnas list estimators "
                            f"{estimator}`)")
    return {**presets[preset], **options}
