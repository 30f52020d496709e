"""The report page: one HTML file, images inline (base64 PNG), its own small CSS, no script
and nothing fetched, so it opens anywhere (a mail attachment, an air-gapped machine)."""

from __future__ import annotations

import base64
import json
from html import escape

from hwnas.core.feasibility import infeasible_line
from hwnas.oneshot.stillness import oneshot_notes
from hwnas.quoting import shell_word
from hwnas.report.collect import RunData

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:75em;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;vertical-align:top;text-align:right}
th{background:#f4f4f4}td.ops{text-align:left;font-family:monospace;white-space:nowrap}
tr.knee{background:#fff6d5}img{max-width:100%;border:1px solid #eee}
pre{background:#f8f8f8;padding:.8em;overflow:auto;font-size:.8em}.note{color:#666}
"""


def image(data: bytes, alt: str) -> str:
    return (f'<img alt="{escape(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(data).decode()}">')


def page(names: list[str], directions: list[str], runs: list[RunData], front_png: bytes | None,
         hv_png: bytes | None) -> str:
    title = "hwnas report: " + ", ".join(d.label for d in runs)
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
             f"{escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{escape(title)}</h1>", _summary(names, runs)]
    if front_png:
        parts += ["<h2>Pareto front</h2>", image(front_png, "Pareto front of "
                                                 + ", ".join(d.label for d in runs))]
    if hv_png:
        parts += ["<h2>Hypervolume over evaluations</h2>",
                  image(hv_png, "hypervolume over evaluations")]
    for d in runs:
        # a one-shot "front" that is the initial argmax, or chosen by cost alone
        notes = "".join(f"<p><strong>{escape(n)}</strong></p>" for n in oneshot_notes(d.history))
        parts += [f"<h2>Front of {escape(d.label)}</h2>",
                  notes,
                  # lines of its history that are no record: named, left out, left in place
                  "".join(f"<p class=note>{escape(p)}</p>" for p in d.problems),
                  _limits(d),
                  _front_table(d, names, directions), _validation(d), "<h3>Configuration</h3>",
                  f"<pre>{escape(json.dumps(d.config, indent=2), quote=False)}</pre>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(names, runs: list[RunData]) -> str:
    rows = "".join(
        f"<tr><td>{escape(d.label)}</td><td>{escape(d.method)}</td>"
        f"<td>{escape(d.config['search']['space'])}</td>"
        f"<td>{escape(d.config['search']['estimator'])}</td><td>{len(d.history)}</td>"
        f"<td>{d.config['search'].get('budget')}</td><td>{len(d.front)}</td>"
        f"<td>{d.failures.get('failed', 0)}</td>"
        f"<td>{d.hv_curve[1][-1]:.4f}</td></tr>" if d.hv_curve[1] else
        f"<tr><td>{escape(d.label)}</td><td colspan=8>no successful candidate</td></tr>"
        for d in runs)
    return ("<table><tr><th>run</th><th>method</th><th>space</th><th>estimator</th>"
            "<th>evaluated</th><th>budget</th><th>front</th><th>failed</th>"
            f"<th>hypervolume</th></tr>{rows}</table><p class=note>objectives: "
            f"{escape(', '.join(names))}; hypervolume normalised (reference 1.1): "
            f"{escape(runs[0].hv_source or 'min-max over the runs shown')}.</p>")


def _limits(d: RunData) -> str:
    """The run's hard limits and its infeasible and failed candidates, counted apart:
    '3 infeasible (broke latency_ms<=3 by the table), 1 failed'."""
    constraints = d.config["search"].get("constraints") or []
    if not constraints and not d.infeasible.get("infeasible"):
        return ""
    line = infeasible_line(d.infeasible) + f", {d.failures.get('failed', 0)} failed"
    return (f"<p>constraints: {escape(', '.join(constraints) or 'none')}; {escape(line)}; "
            "the front is over the feasible candidates only</p>")


def _front_table(d: RunData, names, directions) -> str:
    if not d.front:
        return "<p>No successful candidate, so no front.</p>"
    head = "".join(f"<th>{escape(n)} {'↑' if di == 'max' else '↓'}</th>"
                   for n, di in zip(names, directions, strict=True))
    rows = []
    for i in d.front:
        r = d.records[i]
        values = "".join(f"<td>{r['result'][n]:.4g}</td>" for n in names)
        ops = "<br>".join(f"{escape(str(pos))}: {escape(str(op))}"
                          for pos, op in (r.get("arch") or {}).get("values", {}).items())
        knee = i == d.knee
        rows.append(f"<tr{' class=knee' if knee else ''}><td>{escape(r['arch_key'])}"
                    f"{' (knee)' if knee else ''}</td>{values}<td class=ops>{ops}</td>"
                    f"<td class=ops>{escape(r.get('arch_short') or '')}</td></tr>")
    return (f"<table><tr><th>key</th>{head}<th>ops per position</th><th>compact</th></tr>"
            + "".join(rows) + "</table><p class=note>The knee (highlighted) is what "
            f"<code>hwnas export {escape(shell_word(d.run.path))}</code> exports by default.</p>")


def _validation(d: RunData) -> str:
    v = d.validation
    note = (f"<p class=note><strong>{escape(d.table_note)}</strong></p>" if d.table_note
            else "")
    if v is None:
        return note + "<p class=note>No latency table (the costs come from the estimator).</p>"
    if not v.get("report"):
        return (f"{note}<p class=note>Latency table {escape(v['table'])}: no validation report "
                "beside it; make one with <code>hwnas tables validate TABLE</code>.</p>")
    if v.get("error"):
        return f"{note}<p class=note>{escape(v['report'])}: {escape(v['error'])}.</p>"
    if v.get("status") == "stale":  # of another table: none of its numbers are shown
        return (f"{note}<h3>Latency table validation</h3><p><strong>{escape(v['report'])}: "
                f"{escape(v['stale'])}</strong></p>")

    def pct(x):
        return "-" if x is None else f"{100 * x:.1f}%"

    verdict = (v.get("verdict") or {}).get("line")
    rows = [("verdict", verdict or "-"), ("table", v["table"]),
            ("table hash", (v.get("table_hash") or "-")[:12]),
            ("backend", v.get("backend")),
            ("held-out networks", v.get("samples")), ("calibrated", v.get("calibrated")),
            ("MAPE", pct(v.get("mape"))), ("within ±5%", pct(v.get("within_5"))),
            ("within ±10%", pct(v.get("within_10"))),
            ("Kendall τ", "-" if v.get("kendall_tau") is None else f"{v['kendall_tau']:.3f}"),
            ("noise floor (median)", pct(v.get("noise_floor_median"))),
            ("MAPE of the plain sum", pct(v.get("plain_sum_mape"))),
            ("warnings", "; ".join(map(str, v.get("warnings") or [])) or "none")]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(val))}</td></tr>" for k, val in rows)
    caveat = (f"<p class=note><strong>{escape(v['caveat'])}</strong></p>"
              if v.get("caveat") else "")
    return f"{note}<h3>Latency table validation</h3>{caveat}<table>{body}</table>"
