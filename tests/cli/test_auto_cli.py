"""`hwnas search --method auto` on the command line: the method is picked before the run starts,
said in one line, recorded in the run's config (what auto picked and why, and the method as the
run's strategy), kept by `--resume` and shown by `runs show`; options of a method, and a
misspelt auto, are refused in one line (exit 2, nothing written).

In-process through `run_app` on a synthetic benchmark of every NB201 cell (lookups, no
training); the rule is a hand-made one where the pick must follow from it, and the shipped one
where it must equal what `choose` says."""

from __future__ import annotations

import json

import pytest

from hwnas import api
from hwnas.errors import BadInputError
from hwnas.league.family import MULTI, TWO
from hwnas.searching import auto
from hwnas.searching.config import SearchConfig
from tests.cli.test_cli_runs_fronts import run, tabular_search
from tests.cli.test_constraint_cli import history, one_line
from tests.tabular_helpers import write_synthetic_nb201


def _cell(group, objectives, order):
    return {"group": group, "budget": 100, "objectives": objectives, "problems": 2,
            "order": order,
            "methods": {m: {"mean_rank": i + 1.0, "hv_ratio": 0.95 - i / 100, "first_on": 1,
                            "worst": {"slug": "p", "hv_ratio": 0.9}, "wall_s": 1.0}
                        for i, m in enumerate(order)}}


HAND_RULE = {"format": 1, "created": "2026-01-01T00:00:00",
             "sources": [{"budget": 100, "seeds": 2}], "ceilings": {},
             "cells": [_cell(TWO, [2], ["mobo", "nsga2", "random"]),
                       _cell(MULTI, [3, 4], ["nsga3", "random"])]}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return write_synthetic_nb201(tmp_path_factory.mktemp("auto") / "synthetic.csv")


@pytest.fixture
def hand_rule(tmp_path, monkeypatch):
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(HAND_RULE))
    monkeypatch.setattr(auto, "RULE_PATH", path)
    return path


def test_auto_picks_says_records_and_resume_keeps_the_method(bench, hand_rule, tmp_path,
                                                            capsys):
    r = tmp_path / "r"
    # the benchmark's device cost is an objective, known before evaluation (a lookup), as the
    # league gave it: mobo, first in the rule, is picked
    code, out, err = run(capsys, *tabular_search(bench, r, 4, "auto"))
    assert code == 0, err
    line = next(x for x in err.splitlines() if "--method auto" in x)
    assert line.startswith("hwnas: note: --method auto: mobo (2 objectives, budget 4, costs "
                           "known before evaluation; not measured: budget 4 is below 100")
    assert "passing over" not in line
    assert json.loads(out)["auto"]["method"] == "mobo"
    search = json.loads((r / "config.json").read_text())["search"]
    assert search["strategy"] == "mobo"
    assert search["auto"]["method"] == "mobo" and search["auto"]["measured"] is False
    assert line.endswith(search["auto"]["why"])
    assert search["auto"]["inputs"] == {"budget": 4, "objectives": 2, "known_costs": True,
                                        "space_size": 15625, "constraints": [],
                                        "warm_start": False}
    code, _, err = run(capsys, "search", "--resume", r, "--budget", 6, "--json")
    assert code == 0, err
    assert "--method auto" not in err  # nothing is picked again: the run's method goes on
    assert [h["strategy"] for h in history(r)] == ["mobo"] * 6
    code, out, err = run(capsys, "runs", "show", r)
    assert code == 0, err
    assert "picked by" in out and "mobo" in out


def test_a_limit_is_said_as_not_measured_and_keeps_the_pick(bench, hand_rule, tmp_path,
                                                             capsys):
    r = tmp_path / "r"
    code, _, err = run(capsys, *tabular_search(bench, r, 3, "auto"),
                       "--constraint", "latency:pixel3<=1000")
    assert code == 0, err
    line = next(x for x in err.splitlines() if "--method auto" in x)
    assert line.startswith("hwnas: note: --method auto: mobo (2 objectives, budget 3, costs "
                           "known before evaluation; not measured: budget 3 is below 100")
    assert "1 hard limit(s), the league ran without any" in line
    assert json.loads((r / "config.json").read_text())["search"]["strategy"] == "mobo"


def test_the_shipped_rule_picks_what_choose_says(bench, tmp_path, capsys):
    r = tmp_path / "r"
    code, out, err = run(capsys, *tabular_search(bench, r, 3, "auto"))
    assert code == 0, err
    expected = auto.choose(3, 2, True, 15625)
    assert json.loads((r / "config.json").read_text())["search"]["strategy"] == expected.method
    assert f"hwnas: note: {expected.why}" in err.splitlines()


@pytest.mark.parametrize("extra, typed", [
    (("--strategy-opt", "population=10"), "--strategy-opt population=10 with --method auto"),
    (("--sweep", "lambda=0,1"), "--sweep lambda=0,1 with --method auto"),
    (("--target-ms", "3"), "--target-ms 3 with --method auto"),
])
def test_options_of_a_method_are_refused_with_auto(bench, tmp_path, capsys, extra, typed):
    r = tmp_path / "r"
    code, _, err = run(capsys, *tabular_search(bench, r, 3, "auto"), *extra)
    one_line(code, err, typed, "name the method instead")
    assert not r.exists()


def test_a_misspelt_auto_names_it(bench, tmp_path, capsys):
    r = tmp_path / "r"
    code, _, err = run(capsys, *tabular_search(bench, r, 3, "autoo"))
    one_line(code, err, "unknown strategy 'autoo'", "did you mean 'auto'?")
    assert not r.exists()


def test_the_api_refuses_options_with_auto_before_writing(tmp_path):
    config = SearchConfig(table="", space="nb201", strategy="auto",
                          strategy_options={"population": 4}, run_dir=str(tmp_path / "r"))
    with pytest.raises(BadInputError, match="population=4 with --method auto"):
        api.search(config)
    assert not (tmp_path / "r").exists()
