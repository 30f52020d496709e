"""Tables with an identity (issue "The model you export is the model you measured", item 5):
a content hash over what defines the predictions; a run's stored hash tells when the table at
its path changed; `hwnas profile` never overwrites a table unless told to."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.latency.identity import table_change_note
from hwnas.latency.table import LatencyTable

COMMITTED = Path(__file__).resolve().parents[2] / "latency_tables" / "amd-epyc-2c" / \
    "nb201-ort-cpu-b1-fp32-C16-N5-i3-n10-r32.json"
NB201_TINY = ("--space", "nb201", "--space-opt", "C=4", "--space-opt", "N=1", "--space-opt",
              "resolution=8", "--backend", "torch-cpu", "--threads", "1")


def test_the_hash_is_of_the_content_not_of_when_or_where(tmp_path):
    table = LatencyTable.load(COMMITTED)
    full = table.content_hash()
    assert re.fullmatch(r"[0-9a-f]{64}", full) and table.short_hash() == full[:12]
    raw = json.loads(COMMITTED.read_text())
    raw["created"] = "2030-01-01T00:00:00+00:00"
    (tmp_path / "moved.json").write_text(json.dumps(raw, indent=4))  # other place, layout, date
    assert LatencyTable.load(tmp_path / "moved.json").content_hash() == full
    key = sorted(raw["entries"])[0]
    raw["entries"][key]["p50"] *= 1.01
    (tmp_path / "edited.json").write_text(json.dumps(raw))
    assert LatencyTable.load(tmp_path / "edited.json").content_hash() != full
    table.calibration = {**table.calibration, "per_op_ms": 0.0}
    assert table.content_hash() != full


def test_a_run_is_told_when_its_table_changed_or_is_gone(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(COMMITTED.read_text())
    config = {"table": {"path": str(path), "hash": LatencyTable.load(path).content_hash()}}
    assert table_change_note(config) is None
    old = LatencyTable.load(path).short_hash()
    table = LatencyTable.load(path)
    table.calibration = None  # e.g. re-profiled
    table.save(path)
    note = table_change_note(config)
    assert "\n" not in note and str(path) in note and "changed since this run used it" in note
    assert f"hash {old} then, {table.short_hash()} now" in note
    path.unlink()
    assert "is gone" in table_change_note(config)
    # a run made before runs stored the hash, or without a table: nothing to say
    assert table_change_note({"table": {"path": str(path)}}) is None
    assert table_change_note({"table": None}) is None


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def test_profile_never_overwrites_a_table_unless_forced(tmp_path, monkeypatch, capsys):
    existing = tmp_path / "t.json"
    existing.write_text(COMMITTED.read_text())
    beside = [existing.with_suffix(".validation.json"), existing.with_suffix(".validation.png")]
    for stale in beside:
        stale.write_text("of the table before")
    code, _, err = run(capsys, "profile", *NB201_TINY, "-o", existing)
    assert code == 2 and "\n" not in err and "already exists" in err, err
    assert "--force" in err and "-o" in err
    assert existing.read_text() == COMMITTED.read_text()
    # the default path too, named after this machine's device: refused before measuring
    monkeypatch.chdir(tmp_path)
    from hwnas.api.common import build_space
    from hwnas.api.profile import _destination
    from hwnas.tables.profile import make_backend

    default = _destination(None, "latency_tables", build_space("nb201", {"C": 4, "N": 1,
                                                                          "resolution": 8}),
                           "torch-cpu", 1, 1, "fp32",
                           make_backend("torch-cpu", threads=1).fingerprint())
    default.parent.mkdir(parents=True)
    default.write_text("{}")
    code, _, err = run(capsys, "profile", *NB201_TINY)
    assert code == 2 and str(default) in err and "--force" in err, err
    assert default.read_text() == "{}"
    # --force replaces it on purpose, and the validation beside it goes with it
    code, out, err = run(capsys, "profile", *NB201_TINY, "-o", existing, "--force", "--json")
    assert code == 0, err
    assert json.loads(out)["hash"] == LatencyTable.load(existing).content_hash()
    assert LatencyTable.load(existing).space["config"]["C"] == 4
    assert not any(p.exists() for p in beside)
