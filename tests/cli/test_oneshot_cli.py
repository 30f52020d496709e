"""A one-shot method through `hwnas search`: one derived architecture per sweep setting,
evaluated by the run's estimator and recorded with its setting; the trajectory and its picture
beside the run; a resumed run re-uses the settings already done; --target-ms is a hard limit;
bad sweeps are one line before anything is written."""

from __future__ import annotations

import json

import pytest

from hwnas.latency.table import LatencyTable
from tests.cli.helpers import assert_one_line_error, hwnas

TINY = ("--space", "proxyless", "--space-opt", "resolution=16", "--space-opt", "width_mult=0.25")
FAST = ("--strategy-opt", "epochs=2", "--strategy-opt", "warmup_epochs=1",
        "--strategy-opt", "resolution=8", "--strategy-opt", "train_subset=160",
        "--strategy-opt", "threads=1",
        "--estimator-opt", "epochs=1", "--estimator-opt", "resolution=8",
        "--estimator-opt", "train_subset=128", "--estimator-opt", "threads=1")


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def swept(tmp_path_factory, tiny_table_path):
    run_dir = tmp_path_factory.mktemp("oneshot") / "run"
    proc = hwnas("search", *TINY, "--table", str(tiny_table_path), "--method", "darts",
                 "--sweep", "lambda=0,2", *FAST, "--run-dir", str(run_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    return run_dir


def test_one_candidate_per_setting_recorded_with_it(swept, tiny_table_path):
    recs = records(swept)
    assert [r["proposal"]["setting"] for r in recs] == [{"lambda": 0.0}, {"lambda": 2.0}]
    table = LatencyTable.load(tiny_table_path)
    for r in recs:
        assert r["strategy"] == "darts"
        assert r["proposal"]["table_cost"] == pytest.approx(r["result"]["latency_ms"])
        assert 0 <= r["result"]["accuracy"] <= 1
        assert r["result"]["latency_ms"] > 0 and table.entries
    config = json.loads((swept / "config.json").read_text())
    assert config["search"]["budget"] == 2  # from the sweep, not the default 20


def test_trajectory_and_picture_per_setting(swept):
    for k in (0, 1):
        folder = swept / "strategy" / f"setting-{k:02d}"
        trajectory = json.loads((folder / "trajectory.json").read_text())
        epochs = trajectory["epochs"]
        assert [e["epoch"] for e in epochs] == [0, 1]
        assert [e["phase"] for e in epochs] == ["warmup", "search"]
        for e in epochs:
            assert all(abs(sum(p) - 1) < 1e-4 for p in e["probs"])
            assert e["expected_cost"] > 0 and 0 <= e["entropy"]
        assert (folder / "probabilities.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert json.loads((folder / "result.json").read_text())["setting"] == \
            trajectory["setting"]


def test_resume_reuses_finished_settings(swept, tiny_table_path):
    """Losing the last record and the last setting's result: the resumed run trains that
    setting again, reads the first from disk, and ends with the same history."""
    history = swept / "history.jsonl"
    before = records(swept)
    lines = history.read_text().splitlines(keepends=True)
    history.write_text(lines[0])
    (swept / "strategy" / "setting-01" / "result.json").unlink()
    first = swept / "strategy" / "setting-00" / "trajectory.json"
    stamp = first.stat().st_mtime_ns
    proc = hwnas("search", "--resume", str(swept), "--json")
    assert proc.returncode == 0, proc.stderr
    after = records(swept)
    assert [r["arch_key"] for r in after] == [r["arch_key"] for r in before]
    drop = lambda r: {k: v for k, v in r.items() if k != "eval_seconds"}  # noqa: E731
    assert drop(after[1]["result"]) == drop(before[1]["result"])
    assert first.stat().st_mtime_ns == stamp  # setting 0 was not trained again


def target_above_smallest(table_path) -> float:
    """A --target-ms 2% above the TINY space's smallest network on the table: reachable, and
    below what an untrained derivation picks."""
    from hwnas.spaces.proxyless import ProxylessSpace

    table = LatencyTable.load(table_path)
    space = ProxylessSpace(resolution=16, width_mult=0.25)
    smallest = space.decode([len(o) - 1 if "zero" in o else 0 for _, o in space.choices()])
    return 1.02 * table.predict_ops(space.ops(smallest))


def test_target_is_a_hard_limit(tmp_path, tiny_table_path):
    target = target_above_smallest(tiny_table_path)
    run_dir = tmp_path / "run"
    proc = hwnas("search", *TINY, "--table", str(tiny_table_path), "--method", "darts",
                 "--target-ms", f"{target:.6f}", *FAST, "--run-dir", str(run_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    (rec,) = records(run_dir)
    assert rec["result"]["latency_ms"] <= target
    assert rec["proposal"]["changed_for_target"]  # the argmax was above it and was repaired


@pytest.mark.parametrize("args, needle", [
    (("--sweep", "beta=1,2"), "The 'sweep' option of strategy 'darts' must be KEY=V1,V2"),
    (("--sweep", "lambda=-1"), "numbers >= 0"),
    (("--sweep", "lambda=0,1", "--budget", "3"), "pass --budget 2, or more settings"),
    (("--target-ms", "0"), "The 'target_ms' option of strategy 'darts' must be"),
    (("--strategy-opt", "warmup_epochs=5", "--strategy-opt", "epochs=5"), "< epochs (5)"),
    (("--sweep", "lambda=0,,1"), "comma-separated numbers"),
    (("--strategy-opt", "epochs=1000000000"), "The 'epochs' option of strategy 'darts' must be"),
    (("--sweep", "target_ms=0.000001"), "below the cheapest network"),
    (("--target-ms", "0.000001"), "below the cheapest network"),
    (("--sweep", "lambda=0,1", "--strategy-opt", "sweep=lambda=2"), "given twice"),
    (("--target-ms", "2", "--strategy-opt", "target_ms=3"), "given twice"),
])
def test_bad_one_shot_input_is_one_line_and_writes_nothing(tmp_path, tiny_table_path, args,
                                                           needle):
    run_dir = tmp_path / "run"
    proc = hwnas("search", *TINY, "--table", str(tiny_table_path), "--method", "darts", *args,
                 "--run-dir", str(run_dir))
    assert_one_line_error(proc, 2, needle)
    assert not run_dir.exists()


def test_a_target_without_a_table_is_refused(tmp_path):
    proc = hwnas("search", *TINY, "--objectives", "accuracy,params", "--method", "darts",
                 "--target-ms", "2", "--run-dir", str(tmp_path / "run"))
    assert_one_line_error(proc, 2, "a latency target needs a latency table")
    assert not (tmp_path / "run").exists()


def test_each_setting_records_how_far_its_distribution_moved(swept):
    for r in records(swept):
        assert 0 <= r["proposal"]["alpha_moved"] <= 1
        start, end = r["proposal"]["entropy"]
        assert 0 <= end <= start + 1e-6  # nothing trains a distribution above uniform


def noted_run(run_dir, table_path, method: str, sweep: str, option: str):
    """A tiny one-shot search with one strategy option set: the run's folder, what its end
    printed and what `hwnas runs show` prints of it (each on one line)."""
    proc = hwnas("search", *TINY, "--table", str(table_path), "--method", method,
                 "--sweep", sweep, *FAST, "--strategy-opt", option, "--run-dir", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    shown = hwnas("runs", "show", str(run_dir))
    assert shown.returncode == 0, shown.stderr
    return run_dir, " ".join(proc.stdout.split()), " ".join(shown.stdout.split())


def test_a_sweep_whose_architecture_never_moved_says_so(tmp_path, tiny_table_path):
    """α frozen (an architecture learning rate too small to move it): the "front" is the
    initial argmax; the end of the run and `hwnas runs show` say it in one line."""
    from hwnas.oneshot.stillness import stillness_note

    run_dir, out, shown = noted_run(tmp_path / "run", tiny_table_path, "darts", "lambda=0,2",
                                    "arch_lr=1e-12")
    assert "did not move in every setting" in out and "initial argmax" in out
    assert all(r["proposal"]["alpha_moved"] < 1e-6 for r in records(run_dir))
    assert stillness_note(records(run_dir))
    assert "initial argmax" in shown


def test_stillness_counts_only_the_settings_that_did_not_move():
    from hwnas.oneshot.stillness import stillness_note

    moved = {"proposal": {"alpha_moved": 0.2, "entropy": [1.9, 1.2]}}
    still = {"proposal": {"alpha_moved": 0.001, "entropy": [1.9, 1.899]}}
    assert stillness_note([moved, {"result": {}}]) is None
    assert "1 of 2 settings" in stillness_note([moved, still])
    assert stillness_note([{"proposal": {"setting": {}}}]) is None  # saved before it was kept


def test_each_setting_records_the_accuracy_signal_it_had(swept):
    """The best held-out accuracy of the argmax network over the epochs, with guessing's and
    the held-out images it was measured on: what the flat-signal note reads."""
    for k, r in enumerate(records(swept)):
        signal = r["proposal"]["signal"]
        trajectory = json.loads((swept / "strategy" / f"setting-{k:02d}" /
                                 "trajectory.json").read_text())["epochs"]
        assert signal["best_argmax_acc"] == max(e["argmax_val_acc"] for e in trajectory)
        assert signal["chance"] == pytest.approx(0.1)  # digits: 10 classes
        assert signal["held_out"] == 32  # arch_split 0.2 of train_subset 160


def test_guessing_is_three_standard_errors_around_chance():
    from hwnas.oneshot.stillness import guessing

    # 10 classes, 154 held-out images: guessing's sd 0.0242, the line at 0.1725
    assert guessing({"best_argmax_acc": 0.17, "chance": 0.1, "held_out": 154})
    assert not guessing({"best_argmax_acc": 0.18, "chance": 0.1, "held_out": 154})
    # fewer images, a wider band: 0.25 of 32 could be luck
    assert guessing({"best_argmax_acc": 0.25, "chance": 0.1, "held_out": 32})


def test_the_flat_signal_note_counts_only_the_flat_settings():
    from hwnas.oneshot.stillness import flat_signal_note, oneshot_notes

    learnt = {"proposal": {"signal": {"best_argmax_acc": 0.9, "chance": 0.1, "held_out": 154}}}
    flat = {"proposal": {"signal": {"best_argmax_acc": 0.12, "chance": 0.1, "held_out": 154}}}
    assert flat_signal_note([learnt, {"result": {}}]) is None
    note = flat_signal_note([learnt, flat])
    assert "1 of 2 settings" in note and "at best 0.120" in note and "guessing 0.100" in note
    assert "every setting" in flat_signal_note([flat])
    assert flat_signal_note([{"proposal": {"setting": {}}}]) is None  # saved before it was kept
    assert oneshot_notes([learnt]) == []


def test_a_supernet_that_learnt_nothing_says_so(tmp_path, tiny_table_path):
    """Weights that do not learn (a learning rate of 1e-9): α moves on the cost term alone and
    the derived network is picked by cost; the end of the run and `hwnas runs show` say so."""
    _, out, shown = noted_run(tmp_path / "run", tiny_table_path, "proxyless", "lambda=0.3",
                              "lr=1e-9")
    assert "no accuracy signal in every setting" in out and "guessing 0.100" in out
    assert "no accuracy signal" in shown


@pytest.mark.parametrize("method", ["proxyless"])  # darts: the same rule, 3x the time
def test_the_fast_preset_leaves_the_architecture_room_to_move(tmp_path, tiny_table_path, method):
    """`--preset fast` trains few architecture steps; at the papers' learning rates α did not
    move (the sweep derived the initial argmax). The preset's own rate must let it move
    (ProxylessNAS, with one architecture step per five weight steps, has the fewest)."""
    from hwnas.oneshot.stillness import STILL

    run_dir = tmp_path / "run"
    proc = hwnas("search", *TINY, "--table", str(tiny_table_path), "--method", method,
                 "--sweep", "lambda=0", "--preset", "fast", "--strategy-opt", "threads=1",
                 "--estimator-opt", "epochs=1", "--estimator-opt", "threads=1",
                 "--run-dir", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    (record,) = records(run_dir)
    assert record["proposal"]["alpha_moved"] >= STILL
    assert "did not move" not in proc.stdout
