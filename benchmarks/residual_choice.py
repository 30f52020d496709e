"""Which residual model validates better on held-out networks? (latency-tables issue, item 2)

Offline, no timing: takes calibrated tables and their validation reports (as
`benchmarks/table_drift.py` writes them beside each table: <table>.round<k>.validation.json),
rebuilds the calibration networks and the validation networks from their seeds (their keys are
checked against the stored ones), refits the affine calibration on the stored calibration
measurements, and scores each residual candidate ("none", linear, gradient boosting, random
forest, each forced) and the automatic choices — the lowest cross-validated error, and the
one-standard-error rule hwnas now uses — on every validation's measured networks.

    .venv/bin/python benchmarks/residual_choice.py /tmp/drift/drift-nb201-ort-cpu-reference.json ...

Prints one markdown table: per table and candidate, the share within +-10% and the MAPE on
each validation round, and which candidate each rule chose.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def calibration_archs(table, space, fitted: dict) -> list:
    """The calibration's networks, drawn again as `calibrate_table` drew them."""
    from hwnas.tables.spanning import spanning_archs
    from hwnas.tables.validate import sample_archs

    samples, seed = fitted["networks"], fitted["seed"]
    archs = sample_archs(space, samples - samples // 3, seed)
    archs += spanning_archs(space, lambda a: table.predict_ops(space.ops(a), calibrated=False),
                            samples // 3, seed, exclude={a.key for a in archs})
    if len(archs) < samples:
        archs += sample_archs(space, samples - len(archs), seed + 1,
                              exclude={a.key for a in archs})
    if [a.key for a in archs] != fitted["arch_keys"]:
        raise SystemExit(f"{table.path}: the calibration networks could not be drawn again")
    return archs


def _refit(table, networks, measured, rule: str, seed: int):
    """A copy of `table` calibrated on `measured` with the residual chosen by `rule`: a
    candidate's name (forced), "lowest" or "one-se"."""
    from hwnas.latency import calibration, residual
    from hwnas.tables.calibrate import _fit_residual

    t = copy.deepcopy(table)
    coefficients = calibration.fit(networks, measured, t.entries)
    affine = [calibration.apply(coefficients, s, t.entries, "p50") for s in networks]
    if rule in residual.CANDIDATES:
        selection = _fit_residual(coefficients, networks, affine, measured, t.entries, seed, rule)
    else:
        original = residual.one_standard_error_choice
        if rule == "lowest":  # the rule before: the lowest cross-validated error alone
            residual.one_standard_error_choice = lambda errs: min(
                residual.SIMPLEST_FIRST, key=lambda n: float(np.mean(errs[n])))
        try:
            selection = _fit_residual(coefficients, networks, affine, measured, t.entries,
                                      seed, None)
        finally:
            residual.one_standard_error_choice = original
    t.calibration = coefficients
    return t, selection["chosen"]


def score(table_path: Path) -> list[dict]:
    from hwnas.latency.table import LatencyTable
    from hwnas.tables.validate import accuracy_metrics, sample_archs, table_space

    table = LatencyTable.load(table_path)
    space = table_space(table)
    fitted = table.calibration["fitted_on"]
    networks = [space.ops(a) for a in calibration_archs(table, space, fitted)]
    rounds = []
    for path in sorted(table_path.parent.glob(table_path.stem + ".round*.validation.json")):
        report = json.loads(path.read_text())
        archs = sample_archs(space, report["samples"], report["seed"],
                             exclude=set(fitted["arch_keys"]))
        if [a.key for a in archs] != report["arch_keys"]:
            raise SystemExit(f"{path}: the validation networks could not be drawn again")
        rounds.append(([space.ops(a) for a in archs], report["measured_ms"]))
    rows = []
    for rule in ("none", "linear", "gradient-boosting", "random-forest", "lowest", "one-se"):
        t, chosen = _refit(table, networks, fitted["measured_ms"], rule, fitted["seed"])
        metrics = [accuracy_metrics([t.predict_ops(s) for s in nets], measured)
                   for nets, measured in rounds]
        rows.append({"table": table_path.name, "rule": rule, "chosen": chosen,
                     "within_10": [m["within_10"] for m in metrics],
                     "mape": [m["mape"] for m in metrics]})
    return rows


def main() -> None:
    print("| table | residual | chosen | within ±10% (per validation) | MAPE |")
    print("|---|---|---|---|---|")
    for arg in sys.argv[1:]:
        for r in score(Path(arg)):
            w = " / ".join(f"{100 * v:.0f}%" for v in r["within_10"])
            m = " / ".join(f"{100 * v:.1f}%" for v in r["mape"])
            rule = {"lowest": "lowest CV error (before)", "one-se": "one-SE rule (now)"}.get(
                r["rule"], r["rule"] + " (forced)")
            print(f"| {r['table']} | {rule} | {r['chosen']} | {w} | {m} |")


if __name__ == "__main__":
    main()
