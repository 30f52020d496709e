"""Atomic writes: the file appears whole or not at all, with the mode a plain open() gives."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from hwnas.fileio import atomic_write, atomic_write_bytes, atomic_write_json


@pytest.fixture(params=[0o022, 0o027, 0o077])
def umask(request):
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _plain_open_mode(path) -> int:
    with open(path, "w") as fh:
        fh.write("x")
    return _mode(path)


def test_every_atomic_writer_gives_the_mode_of_a_plain_open(tmp_path, umask):
    from hwnas.analysis.plots import plot_fronts, plot_prediction_scatter

    expected = _plain_open_mode(tmp_path / "plain.txt")
    assert expected == 0o666 & ~umask
    F = np.array([[0.9, 10.0], [0.8, 5.0]])
    written = [
        atomic_write_bytes(tmp_path / "a.bin", b"abc"),
        atomic_write_json(tmp_path / "sub" / "a.json", {"a": 1}),
        plot_fronts({"run": (F, F)}, ("accuracy", "latency_ms"), ("max", "min"),
                    tmp_path / "plots" / "front.png"),
        plot_prediction_scatter([1.0, 2.0], [1.1, 1.9], "t", tmp_path / "plots" / "scatter.png"),
    ]
    assert {str(p): _mode(p) for p in written} == {str(p): expected for p in written}
    assert os.umask(umask) == umask  # reading the umask did not change it


def test_replacing_a_file_takes_the_new_mode_and_content(tmp_path, umask):
    target = tmp_path / "t.json"
    target.write_text("old")
    target.chmod(0o600)
    atomic_write_json(target, [1, 2])
    assert target.read_text() == "[\n  1,\n  2\n]\n" and _mode(target) == 0o666 & ~umask


def test_a_failed_write_leaves_the_target_and_no_temp_file(tmp_path):
    target = tmp_path / "t.bin"
    target.write_bytes(b"before")
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_write(target) as fh:
            fh.write(b"half")
            raise RuntimeError("midway")
    assert target.read_bytes() == b"before"
    assert [p.name for p in tmp_path.iterdir()] == ["t.bin"]
