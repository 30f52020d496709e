"""How a local Ray is started for a run on a small machine — dashboard off, a bounded object
store, this machine's cores, quiet, one line saying so, shut down at the end — checked on a
stand-in `ray` module (a real start is tests/distributed/conftest.py's, once)."""

from __future__ import annotations

import os
import sys
import types

from hwnas.distributed.session import RaySession


def fake_ray(initialized: bool = False):
    calls = {"init": [], "shutdown": 0}
    ray = types.ModuleType("ray")
    ray.is_initialized = lambda: initialized or bool(calls["init"]) and not calls["shutdown"]
    ray.init = lambda **kwargs: calls["init"].append(kwargs)
    ray.shutdown = lambda: calls.__setitem__("shutdown", calls["shutdown"] + 1)
    ray.cluster_resources = lambda: {"CPU": 2.0}
    ray.nodes = lambda: [{"Alive": True, "Resources": {"CPU": 2.0}}]
    return ray, calls


def test_a_local_ray_is_small_quiet_announced_and_stopped(monkeypatch):
    ray, calls = fake_ray()
    monkeypatch.setitem(sys.modules, "ray", ray)
    notes = []
    session = RaySession.open("", what="the ray evaluator", announce=notes.append)
    (kwargs,) = calls["init"]
    assert kwargs["address"] == "local"  # never an ambient RAY_ADDRESS's cluster
    assert kwargs["include_dashboard"] is False
    assert kwargs["object_store_memory"] == 256 * 2**20
    assert kwargs["num_cpus"] == os.cpu_count()
    assert kwargs["log_to_driver"] is False and kwargs["logging_level"] >= 30
    assert len(notes) == 1 and notes[0].startswith("the ray evaluator: started a local Ray")
    assert f"({os.cpu_count()} CPUs, object store 256 MB, dashboard off)" in notes[0]
    session.close()
    session.close()  # idempotent
    assert calls["shutdown"] == 1


def test_a_ray_already_running_in_the_process_is_used_and_left_running(monkeypatch):
    ray, calls = fake_ray(initialized=True)
    monkeypatch.setitem(sys.modules, "ray", ray)
    notes = []
    session = RaySession.open("", what="x", announce=notes.append)
    session.close()
    assert calls == {"init": [], "shutdown": 0} and notes == []
