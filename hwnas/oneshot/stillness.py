"""Whether a one-shot run's architecture parameters moved at all, and whether its supernet
gave them an accuracy signal to move on.

A supernet trained too briefly after its warm-up (or with too small an architecture learning
rate) ends with the distribution it started from: every setting of a sweep then derives the
same initial argmax, and the "front" is that one network evaluated several times. Nothing in
the numbers says so (a run measured here went from entropy 1.882 to 1.882 over three settings
and was shown as a front), so the run says it in one line: at its end, in `hwnas runs show` and
in `hwnas report`.

The second failure is quieter: α moves, but only the cost term moves it, because the supernet's
networks score as guessing does (single-path supernets with separate weights after a CPU's few
hundred steps: BENCHMARKS.md, "Why the single-path supernets do not learn here"). A sweep then
looks like a front while it is a latency-only sweep. The trainer records the best held-out
accuracy the argmax network reached with the supernet's weights over the epochs; a setting
whose best is within three standard errors of guessing (1 / classes, on that many held-out
images) is said to have had no accuracy signal.
"""

from __future__ import annotations

import math

# Largest change of any option's probability under which a setting counts as not moved: a
# distribution over 2-7 options that moved less than one point cannot change which option an
# argmax picks except between options already tied.
STILL = 0.01
# Standard errors of guessing's accuracy on the held-out images within which a setting's best
# argmax accuracy counts as guessing: at 3, one epoch of a supernet that learnt nothing passes
# for a signal about 1 time in 700 (the best of the preset's 4 epochs, about 1 in 180), and an
# argmax network right on 18% of 154 digits (10 classes, the demo's split) is not guessing.
GUESSING_SE = 3.0


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


def guessing(signal: dict) -> bool:
    """Whether a setting's best argmax accuracy (`signal`, the trainer's record) is within
    `GUESSING_SE` standard errors of guessing."""
    chance, n = signal["chance"], max(1, signal["held_out"])
    return signal["best_argmax_acc"] <= chance + GUESSING_SE * math.sqrt(chance * (1 - chance) / n)


def flat_signal_note(records: list[dict]) -> str | None:
    """One line when the one-shot settings among `records` had no accuracy signal (their
    argmax networks scored as guessing does with the supernet's weights); None otherwise."""
    settings = [r["proposal"] for r in records
                if isinstance(r.get("proposal"), dict) and r["proposal"].get("signal")]
    flat = [p for p in settings if guessing(p["signal"])]
    if not flat:
        return None
    which = ("every setting" if len(flat) == len(settings) else
             f"{len(flat)} of {len(settings)} settings")
    best = max(p["signal"]["best_argmax_acc"] for p in flat)
    chance = flat[0]["signal"]["chance"]
    return (f"the supernet gave no accuracy signal in {which} (the argmax network's held-out "
            f"accuracy with the supernet's weights at best {best:.3f}, guessing {chance:.3f}): "
            "only the cost term moved the architecture, so those networks were chosen by "
            "cost, not accuracy; train the supernet longer (--strategy-opt epochs=E or more "
            "images with train_subset) or with supernet_weights=entangled")


def oneshot_notes(records: list[dict]) -> list[str]:
    """The lines a one-shot run's end, `hwnas runs show` and the report print about it."""
    return [n for n in (stillness_note(records), flat_signal_note(records)) if n]
