"""SIGKILL `hwnas train` after its first epoch, run the same command again: it resumes from the
checkpoint and ends with the weights of a training never interrupted, bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import torch

from hwnas.api import train as job
from hwnas.trained import TrainedDir
from tests.cli.helpers import ROOT
from tests.train_helpers import write_run

EPOCHS = 4


def test_a_killed_training_resumes_to_the_uninterrupted_weights(tmp_path):
    # the space at 8x8 (the smallest): the same path through the code at a quarter of the cost
    reference, keys = write_run(tmp_path / "reference", resolution=8, proxy_resolution=None)
    expected = job.train(reference.path, arch_key=keys[2], epochs=EPOCHS)
    killed, _ = write_run(tmp_path / "killed", resolution=8, proxy_resolution=None)
    folder = TrainedDir(killed.path, keys[2])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(ROOT / "cli.py"), "train", str(killed.path), "--arch",
               keys[2], "--epochs", str(EPOCHS), "--json"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not folder.curve_path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the training ended before it could be killed"
    done = json.loads(folder.curve_path.read_text())["epochs"]
    assert 1 <= len(done) < EPOCHS and folder.checkpoint_path.exists() and not folder.finished()

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "resuming the final training" in again.stderr
    result = json.loads(again.stdout)
    assert result["state"] == "resume" and result["test_accuracy"] == expected["test_accuracy"]
    a = folder.load_weights()
    b = TrainedDir(reference.path, keys[2]).load_weights()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    curve = json.loads(folder.curve_path.read_text())["epochs"]
    assert [e["epoch"] for e in curve] == list(range(1, EPOCHS + 1))
