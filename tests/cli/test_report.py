"""`hwnas report RUN [RUN...] -o report.html` (issue 14, item 8): one self-contained HTML file
with the front plot, the hypervolume curves, the front members decoded per position, the
latency table's validation summary and the configuration; it renders in a real headless
browser; bad input is one line, exit 2, nothing written.

Runs are made in-process through `run_app` (a subprocess costs seconds of imports), on the
synthetic NB201 benchmark (every cell, so any strategy's proposal is covered)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.tabular_helpers import write_synthetic_nb201

ROOT = Path(__file__).resolve().parents[2]
VALIDATION = ROOT / "latency_tables" / "amd-epyc-2c" / \
    "proxyless-ort-cpu-b1-fp32-i3-n10-r32-w1.validation.json"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    """Two tiny tabular runs (random, evolution), the second marked as searched against a
    latency table that has a validation report beside it (the committed ort-cpu one): a
    tabular search has no table, and a scratch search with one takes minutes."""
    folder = tmp_path_factory.mktemp("report")
    bench = write_synthetic_nb201(folder / "synthetic.csv")
    made = []
    for method in ("random", "evolution"):
        run_dir = folder / f"nb201-{method}-s0"
        code = run_app(app, ["search", "--space", "nb201", "--estimator", "tabular",
                             "--estimator-opt", f"benchmark={bench}", "--estimator-opt",
                             "costs=latency:pixel3", "--objectives", "accuracy,latency:pixel3",
                             "--method", method, "--strategy-opt",
                             *(("population=4", "--strategy-opt", "sample_size=2")
                               if method == "evolution" else ("max_retries=100",)),
                             "--budget", "8", "--run-dir", str(run_dir), "--json"])
        assert code == 0
        made.append(run_dir)
    table = folder / "tables" / "t.json"
    table.parent.mkdir()
    table.write_text("{}")
    shutil.copy(VALIDATION, table.with_suffix(".validation.json"))
    config = json.loads((made[1] / "config.json").read_text())
    config["table"] = {"path": str(table), "backend": "ort-cpu", "batch": 1, "dtype": "fp32",
                       "device": "amd-epyc-2c"}
    (made[1] / "config.json").write_text(json.dumps(config))
    return made


@pytest.fixture(scope="module")
def page(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("page") / "report.html"
    assert run_app(app, ["report", *map(str, runs), "-o", str(out)]) == 0
    return out


def test_one_self_contained_file_with_everything(page, runs):
    text = page.read_text()
    assert stat.S_IMODE(page.stat().st_mode) & 0o044 == 0o044  # readable by others
    # self-contained: no script, stylesheet link, or anything fetched
    assert not re.search(r"<script|<link|<iframe|@import|url\(", text, re.I)
    sources = re.findall(r'<img[^>]*src="([^"]+)"', text)
    assert len(sources) == 2  # the front and the hypervolume curves
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "Pareto front" in text and "Hypervolume over evaluations" in text
    # the front members with their ops, per position, and objectives
    for run_dir in runs:
        pareto = json.loads((run_dir / "pareto.json").read_text())
        for member in pareto["front"]:
            assert member["arch_key"] in text
            for position, op in member["arch"]["values"].items():
                assert f"{position}: {op}" in text
            assert f"{member['result']['latency:pixel3']:.4g}" in text
        assert f"Front of {run_dir.name}" in text
    assert "(knee)" in text
    # the latency table's validation summary, from the report beside the table
    metrics = json.loads(VALIDATION.read_text())["metrics"]
    assert "Latency table validation" in text
    assert f"{100 * metrics['within_10']:.1f}%" in text and f"{metrics['kendall_tau']:.3f}" in text
    # the configuration
    assert '"strategy": "evolution"' in text and '"population": 4' in text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install "
                                             "chromium); the headless render check needs it")
def test_images_render_in_a_headless_browser(page, tmp_path):
    """A copy of the page with a script that writes each image's natural width into the DOM,
    read back with --dump-dom after Chromium loaded and decoded it."""
    probe = ("<script>window.addEventListener('load', () => { document.body.setAttribute("
             "'data-widths', Array.from(document.images).map(i => i.complete ? i.naturalWidth "
             ": -1).join(',')); });</script>")
    copy = tmp_path / "probe.html"
    copy.write_text(page.read_text().replace("</body>", probe + "</body>"))
    proc = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox",
                           "--virtual-time-budget=5000", "--dump-dom", copy.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'data-widths="([^"]*)"', proc.stdout)
    assert found, (proc.returncode, proc.stdout[-500:], proc.stderr[-1000:])
    widths = [int(w) for w in found.group(1).split(",")]
    assert len(widths) == 2 and all(w > 100 for w in widths), widths


def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path, capsys):
    code, _, err = run(capsys, "report", tmp_path / "nope", "-o", tmp_path / "r.html")
    assert code == 2 and "\n" not in err and "nope" in err and "hwnas search" in err, err
    code, _, err = run(capsys, "report", runs[0], "-o", tmp_path / "missing" / "r.html")
    assert code == 2 and "\n" not in err and "does not exist" in err, err
    assert not (tmp_path / "missing").exists()
    locked = tmp_path / "locked.html"
    locked.write_text("keep me")
    locked.chmod(0o444)
    code, _, err = run(capsys, "report", runs[0], "-o", locked)
    assert code == 2 and "\n" not in err and "read-only" in err, err
    assert locked.read_text() == "keep me"
    code, _, err = run(capsys, "report", runs[0], "-o", tmp_path / "r.txt")
    assert code == 2 and ".html" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked.html"]


def test_runs_with_other_objectives_are_refused_in_one_line(runs, tmp_path, capsys):
    code, _, err = run(capsys, "report", runs[0], "--objectives", "accuracy,latency_ms",
                       "-o", tmp_path / "r.html")
    assert code == 2 and "\n" not in err and "latency_ms" in err, err
    assert not (tmp_path / "r.html").exists()


def test_the_table_section_says_when_its_validation_or_the_table_itself_is_stale(
        runs, tmp_path):
    """A validation report naming the table's hash is shown with its verdict; once the table
    changes, the report is shown as stale (none of its numbers) and the run's section says the
    table is not the one it used."""
    from hwnas.latency.table import LatencyTable

    run_dir = tmp_path / "run"
    shutil.copytree(runs[1], run_dir)
    table_path = tmp_path / "t.json"
    shutil.copy(VALIDATION.parent / "proxyless-ort-cpu-b1-fp32-i3-n10-r32-w1.json", table_path)
    table = LatencyTable.load(table_path)
    report = json.loads(VALIDATION.read_text())
    report["table_hash"] = table.content_hash()
    table_path.with_suffix(".validation.json").write_text(json.dumps(report))
    config = json.loads((run_dir / "config.json").read_text())
    config["table"] = {"path": str(table_path), "hash": table.content_hash()}
    (run_dir / "config.json").write_text(json.dumps(config))
    out = tmp_path / "current.html"
    assert run_app(app, ["report", str(run_dir), "-o", str(out)]) == 0
    text = out.read_text()
    within = f"{100 * report['metrics']['within_10']:.1f}%"
    assert "not usable: " in text or "usable: " in text  # the verdict, from the old metrics
    assert within in text and table.short_hash() in text and "stale" not in text
    assert "changed since this run used it" not in text
    table.calibration = None  # re-profiled, say
    table.save(table_path)
    out = tmp_path / "stale.html"
    assert run_app(app, ["report", str(run_dir), "-o", str(out)]) == 0
    text = " ".join(out.read_text().split())
    assert f"stale: made for table {report['table_hash'][:12]}, the table is now " \
           f"{table.short_hash()}; re-run `hwnas tables validate {table_path}`" in text
    assert within not in text and "usable: " not in text
    assert "changed since this run used it" in text
