"""Whether a one-shot run's architecture parameters moved at all.

A supernet trained too briefly after its warm-up (or with too small an architecture learning
rate) ends with the distribution it started from: every setting of a sweep then derives the
same initial argmax, and the "front" is that one network evaluated several times. Nothing in
the numbers says so (a run measured here went from entropy 1.882 to 1.882 over three settings
and was shown as a front), so the run says it in one line: at its end, in `hwnas runs show` and
in `hwnas report`.
"""

from __future__ import annotations

# Largest change of any option's probability under which a setting counts as not moved: a
# distribution over 2-7 options that moved less than one point cannot change which option an
# argmax picks except between options already tied.
STILL = 0.01


def stillness_note(records: list[dict]) -> str | None:
    """One line when the one-shot settings among `records` (history records) ended where they
    started; None when they moved or the run is not one-shot."""
    settings = [r["proposal"] for r in records
                if isinstance(r.get("proposal"), dict) and "alpha_moved" in r["proposal"]]
    still = [p for p in settings if p["alpha_moved"] < STILL]
    if not still:
        return None
    start = min(p["entropy"][0] for p in still)
    end = min(p["entropy"][1] for p in still)
    which = ("every setting" if len(still) == len(settings) else
             f"{len(still)} of {len(settings)} settings")
    return (f"the architecture parameters did not move in {which} (largest probability "
            f"change {max(p['alpha_moved'] for p in still):.4f}, entropy {start:.3f} -> "
            f"{end:.3f}): those derived networks are the initial argmax, not a search result; "
            "train the architecture longer (--strategy-opt epochs=E, more epochs after "
            "warmup_epochs, or more images with train_subset) or raise arch_lr")
