"""A scratch search of 8 candidates through `--evaluator ray` (2 workers) against `--evaluator
local`, in one run: wall times and their ratio, Ray's start-up time and the memory its
processes hold (RSS of the GCS, the raylet, the agents and the workers, sampled through the
search, peak of the sum).

Same seed, same strategy (random, all 8 asked at once), same estimator options, so both
evaluate the same 8 architectures; the histories are compared too. The local evaluator trains
one candidate at a time with torch's threads over every core (so do not set OMP_NUM_THREADS
for this script); Ray trains two at a time, each capped to its task's `num_cpus` (1) threads.
Different thread counts may change the last digits of an accuracy: the report gives the
largest difference.

    .venv/bin/python benchmarks/ray_scratch.py [--candidates 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.api.search import search  # noqa: E402
from hwnas.distributed.session import RaySession  # noqa: E402
from hwnas.runs import RunDir  # noqa: E402
from hwnas.searching.config import SearchConfig  # noqa: E402

ESTIMATOR = {"epochs": 2, "resolution": 16, "train_subset": 768}  # BENCHMARKS.md's proxy


def descendants(root: int) -> list[int]:
    """Every live process under `root` (Ray's GCS and raylet are the driver's children, its
    workers and agents the raylet's)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kind_of(pid: int) -> str | None:
    try:
        cmd = (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    except OSError:
        return None
    for marker, kind in (("gcs_server", "gcs"), ("raylet", "raylet"),
                         ("DashboardAgent", "agents"), ("dashboard/agent.py", "agents"),
                         ("RuntimeEnvAgent", "agents"), ("runtime_env/agent", "agents"),
                         ("ray::", "workers"), ("default_worker.py", "workers")):
        if marker in cmd:
            return kind
    return "other ray" if "ray" in cmd else None


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def ray_memory() -> dict[str, float]:
    by_kind: dict[str, float] = {}
    for pid in descendants(os.getpid()):
        kind = kind_of(pid)
        if kind:
            by_kind[kind] = by_kind.get(kind, 0.0) + rss_mb(pid)
    by_kind["total"] = sum(by_kind.values())
    return by_kind


class MemorySampler(threading.Thread):
    def __init__(self, every: float = 0.5):
        super().__init__(daemon=True)
        self.every, self.stop, self.peak = every, threading.Event(), {"total": 0.0}

    def run(self):
        while not self.stop.is_set():
            now = ray_memory()
            if now["total"] > self.peak["total"]:
                self.peak = now
            time.sleep(self.every)


def run_search(run_dir: Path, evaluator: str, candidates: int, seed: int) -> float:
    config = SearchConfig(table="", space="proxyless", strategy="random",
                          estimator_options=dict(ESTIMATOR), evaluator=evaluator,
                          objectives=["accuracy", "params"], budget=candidates,
                          batch=candidates, seed=seed, run_dir=str(run_dir),
                          keep_weights="none")
    start = time.perf_counter()
    search(config)
    return time.perf_counter() - start


def results(run_dir: Path) -> list[tuple]:
    return [(r["arch_key"], r["result"].get("accuracy")) for r in RunDir(run_dir).history()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    out = Path(tempfile.mkdtemp(prefix="ray-scratch-"))

    session = RaySession.open("", what="benchmark", local_cpus=args.workers)
    startup = session.startup_seconds
    idle = ray_memory()
    sampler = MemorySampler()
    sampler.start()
    ray_seconds = run_search(out / "ray", "ray", args.candidates, args.seed)
    sampler.stop.set()
    sampler.join()
    session.close()

    import torch

    local_threads = torch.get_num_threads()
    local_seconds = run_search(out / "local", "local", args.candidates, args.seed)
    on_ray, local = results(out / "ray"), results(out / "local")
    report = {
        "candidates": args.candidates, "ray_workers": args.workers,
        "estimator": ESTIMATOR, "cores": os.cpu_count(), "load_average_before": load,
        "local_seconds": round(local_seconds, 1), "ray_seconds": round(ray_seconds, 1),
        "local_over_ray": round(local_seconds / ray_seconds, 2),
        "ray_startup_seconds": round(startup, 1),
        "local_over_ray_with_startup": round(local_seconds / (ray_seconds + startup), 2),
        "ray_rss_mb_idle": {k: round(v) for k, v in idle.items()},
        "ray_rss_mb_peak": {k: round(v) for k, v in sampler.peak.items()},
        "local_torch_threads": local_threads,
        "same_architectures": [k for k, _ in on_ray] == [k for k, _ in local],
        "max_accuracy_difference": max(abs(a - b) for (_, a), (_, b)
                                       in zip(on_ray, local, strict=True)),
        "runs": str(out),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
