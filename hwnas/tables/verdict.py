"""Whether to trust a latency table, in one line: the numbers against stated thresholds, or
what to do instead.

The thresholds:
- `WITHIN_10` 80% of networks within +-10%: +-10% is the accuracy this project states for its
  tables; a search with `--target-ms` picks networks predicted at the target, and with four in
  five within +-10% such a network measures within 10% of the target four times in five.
  Below that, a target "met" says little about the network.
- `TAU` Kendall tau 0.80: (1 + tau) / 2 of the pairs of networks are ordered right, 90% at
  0.80; a front is a ranking, and with more pairs wrong its members are not the trade-offs
  they look like.
- `REPEATS` 90%: the share of networks the machine re-measures within +-10% of itself (the
  noise ceiling, hwnas.tables.validate). A prediction cannot be expected to match
  measurements better than the measurements match each other; below 90% a failed check says
  more about the machine than about the table, and the advice is about the machine.
- `GAP` 3 points: where the same networks were re-measured, the table's share within +-10%
  of the first measurement is set beside the re-measurement's. Within 3 points, the machine
  is the limit (no table could do much better here); further below, the table is.

The line ends with the verdict: trust (thresholds met, and the table within `GAP` of the
machine), use with care (thresholds met but the table is the limit, or thresholds missed
while the ranking holds and the machine is the limit), do not use (otherwise).
"""

from __future__ import annotations

import math

from hwnas.quoting import shell_word

WITHIN_10 = 0.80
TAU = 0.80
REPEATS = 0.90
GAP = 0.03
TRUST, CARE, DONT = "trust", "use with care", "do not use"
MORE_SAMPLES = 60  # calibration networks to suggest (the default of `tables calibrate`)


def verdict(within_10: float, tau: float, repeats: float | None, *, table: str = "TABLE",
            threads: int | None = None, samples: int | None = None, basis: str = "",
            ceiling: dict | None = None, stat: str = "p50") -> dict:
    """{"usable", "level", "limit", "line", "thresholds", ...}: `within_10` and `tau` of the
    predictions, `repeats` the machine's share within +-10% of itself (None: not measured);
    `threads` the table's, `samples` the calibration networks, both for the advice; `basis`
    what the numbers were measured on, when not held-out networks ("cross-validated");
    `ceiling` the table and the re-measurement on the same networks (validate's
    noise_ceiling), which says whether the table or the machine is the limit; `stat` the
    table's statistic, for the advice."""
    tau_ok = tau is not None and not math.isnan(tau) and tau >= TAU
    usable = within_10 >= WITHIN_10 and tau_ok
    numbers = (f"{100 * within_10:.0f}% within ±10% (needs {100 * WITHIN_10:.0f}%), Kendall τ "
               f"{_tau(tau)} (needs {TAU:.2f})")
    if repeats is None:
        machine = "the machine's repeatability was not measured"
    else:
        machine = f"the machine repeats itself {100 * repeats:.0f}% within ±10%"
    word = ("usable" if usable else "not usable") + (f" ({basis})" if basis else "")
    if usable:
        line = f"{word}: {numbers}; {machine}"
    else:
        line = f"{word}: {numbers}; {_advice(repeats, machine, table, threads, samples, stat)}"
    limit, clause = _limit(ceiling)
    if limit is None:
        level = TRUST if usable else DONT
    elif usable:
        level = TRUST if limit == "machine" else CARE
    else:
        level = CARE if limit == "machine" and tau_ok else DONT
    line += f"; verdict: {level}" + (f" ({clause})" if clause else "")
    return {"usable": usable, "level": level, "limit": limit, "line": line,
            "within_10": within_10, "kendall_tau": tau, "repeats": repeats,
            "thresholds": {"within_10": WITHIN_10, "kendall_tau": TAU, "repeats": REPEATS,
                           "gap": GAP}}


def _limit(ceiling: dict | None) -> tuple[str | None, str]:
    """("machine" | "table", the clause saying so), or (None, "") without a re-measurement."""
    if not ceiling or (ceiling.get("n") or 0) < 2:
        return None, ""
    table, machine = ceiling["within_10_predicted"], ceiling["within_10_remeasured"]
    same = (f"on the same {ceiling['n']} networks the table has {100 * table:.0f}% within "
            f"±10% and τ {_tau(ceiling.get('tau_predicted'))}, the machine re-measuring itself "
            f"{100 * machine:.0f}% and τ {_tau(ceiling.get('tau_remeasured'))}")
    if machine - table <= GAP:
        return "machine", f"the machine is the limit: {same}"
    return "table", f"the table is the limit: {same}"


def _tau(tau) -> str:
    return "n/a" if tau is None or math.isnan(tau) else f"{tau:.2f}"


def _advice(repeats, machine: str, table: str, threads, samples, stat: str = "p50") -> str:
    one_thread = threads != 1
    if repeats is not None and repeats < REPEATS:
        low = [] if stat in ("p0", "p10") else [
            "in the low end of the timings, which a neighbour does not reach (re-profile "
            "with --latency-stat p10)"]
        ways = low + ["on a quieter machine"] + (["with --threads 1"] if one_thread else []) \
            + ["with more --rounds"]
        return (f"{machine} (needs {100 * REPEATS:.0f}%), so no table can do better here: "
                f"measure {', '.join(ways[:-1])} or {ways[-1]}")
    steps = []
    if one_thread:
        steps.append("re-profile with one thread (`hwnas profile ... --threads 1 -o NEW.json`)")
    more = MORE_SAMPLES if not samples or samples < MORE_SAMPLES else 2 * samples
    steps.append(f"calibrate on more networks (`hwnas tables calibrate {shell_word(table)} "
                 f"--samples {more}`)")
    if repeats is None:
        return (f"{machine}, so machine noise cannot be told from table error: "
                f"{', or '.join(steps)}, and validate with --noise-samples 30")
    return f"{machine}, so the table is what misses: {', or '.join(steps)}"
