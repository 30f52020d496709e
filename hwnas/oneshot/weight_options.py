"""How a supernet's candidates hold their weights: the `supernet_weights` and `kernel_transform`
options every supernet user declares (the one-shot strategies, ENAS, SPOS, the `shared`
estimator). Not `weights`: ENAS and SPOS already have a `weights` option, the reward's weights
of the objectives (hwnas.rewards); one name must mean one thing in every plug-in.

Plain data, no torch: strategy modules import this at module level and `hwnas list` must load
no torch. The mechanism is hwnas.oneshot.entangled.

- `entangled`: at each position the candidates that nest (the inverted-residual blocks of the
  chain spaces: kernel 3/5/7, expansion 3/6) share one tensor of the largest kernel and
  expansion; kernel k is its centre k x k, expansion e its first e/e_max of the channels
  (once-for-all's elastic kernel and width, Single-Path NAS's superkernel). BatchNorm stays
  per candidate. Options that do not nest (`zero`, `skip`, cell ops of other types) keep
  their own weights.
- `separate`: one weight per candidate (the papers' supernets as written).

The default is chosen by measurement (benchmarks/supernet_weights.py, BENCHMARKS.md "Entangled
or separate supernet weights"): on digits a uniformly sampled single-path supernet with
separate weights stays near chance for hundreds of steps, one with entangled weights learns.
"""

from __future__ import annotations

from hwnas.options import Option

WEIGHT_MODES = ("entangled", "separate")
DEFAULT_WEIGHTS = "entangled"
WEIGHTS_OPTION = "supernet_weights"

WEIGHT_OPTIONS = {
    # a run written before this option trained separate weights: it resumes with them
    WEIGHTS_OPTION: Option(DEFAULT_WEIGHTS, str, choices=WEIGHT_MODES, aliases=("weights",),
                           legacy="separate",
                           help="entangled: nested kernels/expansions share one tensor per "
                                "position; separate: one weight per candidate"),
    "kernel_transform": Option(False, bool,
                               help="entangled only: a learned map per kernel step (7->5, "
                                    "5->3) on the centre, as once-for-all"),
}
