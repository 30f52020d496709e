"""Measuring on the device's node: a job placed by a Ray custom resource runs in a worker that
holds that resource, a resource no node offers is refused (not left pending forever), and
`hwnas profile --ray-resource` measures through it and writes the table here."""

from __future__ import annotations

import os

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.distributed import placement
from hwnas.errors import BadInputError
from hwnas.latency.table import LatencyTable
from tests.distributed.conftest import DEVICE_RESOURCE


def where_am_i() -> tuple[int, dict]:
    """Run on the worker: its pid and the resources Ray assigned to this task."""
    import ray

    return os.getpid(), ray.get_runtime_context().get_assigned_resources()


def test_a_job_runs_on_a_worker_holding_the_device_resource(ray_cluster):
    pid, assigned = placement.run_on_resource(where_am_i, resource=DEVICE_RESOURCE)
    assert pid != os.getpid()
    assert assigned.get(DEVICE_RESOURCE) == 1.0


def test_a_resource_no_node_offers_is_refused_naming_what_is_offered(ray_cluster):
    with pytest.raises(BadInputError) as err:
        placement.run_on_resource(where_am_i, resource="device:jetson")
    message = str(err.value)
    assert "'device:jetson'" in message and DEVICE_RESOURCE in message
    assert "ray start --address HOST:PORT --resources '{\"device:jetson\": 1}'" in message


def test_an_error_raised_on_the_node_is_raised_here_as_it_was(ray_cluster, capsys, tmp_path):
    code = run_app(app, ["profile", "--space", "nb201", "--backend", "no-such-backend",
                         "--ray-resource", DEVICE_RESOURCE, "-o", str(tmp_path / "t.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("hwnas: error: unknown backend 'no-such-backend'"), err
    assert not (tmp_path / "t.json").exists()


def test_profile_with_ray_resource_measures_there_and_writes_here(ray_cluster, tmp_path,
                                                                  monkeypatch, capsys):
    placed = []

    def spy(fn, *args, **kwargs):
        placed.append(kwargs["resource"])
        return real(fn, *args, **kwargs)

    real = placement.run_on_resource
    monkeypatch.setattr(placement, "run_on_resource", spy)
    out = tmp_path / "table.json"
    code = run_app(app, ["profile", "--space", "nb201", "--space-opt", "C=4", "--space-opt",
                         "N=1", "--space-opt", "resolution=8", "--backend", "torch-cpu",
                         "-o", str(out), "--ray-resource", DEVICE_RESOURCE, "--json"])
    assert code == 0, capsys.readouterr().err
    assert placed == [DEVICE_RESOURCE]
    table = LatencyTable.load(out)
    from hwnas.registry import SPACES

    space = SPACES.get("nb201")(C=4, N=1, resolution=8)
    assert set(table.entries) == {sig.key for sig in space.all_ops()}
    assert all(entry["p50"] > 0 for entry in table.entries.values())
    assert table.backend == "torch-cpu"


def test_profile_on_a_node_refuses_to_overwrite_its_default_table(ray_cluster, tmp_path,
                                                                   monkeypatch, capsys):
    """Without -o the table is named after the node's device, asked of the node before
    anything is measured: a second profile is refused there, in one line."""
    monkeypatch.chdir(tmp_path)
    argv = ["profile", "--space", "nb201", "--space-opt", "C=4", "--space-opt", "N=1",
            "--space-opt", "resolution=8", "--backend", "torch-cpu", "--ray-resource",
            DEVICE_RESOURCE, "--json"]
    code = run_app(app, argv)
    assert code == 0, capsys.readouterr().err
    written = list((tmp_path / "latency_tables").rglob("*.json"))
    assert len(written) == 1
    before = written[0].read_text()
    capsys.readouterr()
    code = run_app(app, argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "already exists" in err and "--force" in err, err
    assert written[0].read_text() == before


@pytest.mark.parametrize("args, message", [
    (["--ray-address", "10.0.0.1:6379"], "--ray-address applies only with --ray-resource"),
    (["--ray-resource", "device:x", "--ray-address", "nohost"], "--ray-address must be"),
    (["--ray-resource", " "], "--ray-resource needs a resource name"),
    (["--ray-resource", "device:x", "--bundle", "ops.zip"], "--ray-resource does not apply"),
])
def test_ray_flags_that_cannot_apply_are_refused_in_one_line(tmp_path, capsys, args, message):
    code = run_app(app, ["profile", "--space", "nb201", "-o", str(tmp_path / "t.json"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and message in err, err
    assert not list(tmp_path.iterdir())
