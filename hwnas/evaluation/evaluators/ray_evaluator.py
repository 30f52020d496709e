"""`ray`: each candidate of a batch is one Ray task, with its own CPUs/GPUs, on a local Ray or a
cluster.

The driver ships only plain data — the `EvaluationTask` as JSON and each architecture's dict —
and every worker process rebuilds (and keeps) its own scorer from it (`ray_worker` beside this
module), so a seeded run's history equals the local evaluator's for a deterministic estimator:
results are collected in the order asked, whatever order the tasks finish in.

Faults: a worker process that dies mid-candidate (killed, out of memory, its node lost) is
retried by Ray `max_retries` times, then the candidate is recorded failed with a reason naming
the lost worker; an exception of the candidate itself is already a failed outcome inside the
task (`evaluate_candidate`) and is never retried. Ctrl-C cancels the outstanding tasks. Ray is
imported only when this evaluator is built (the module is imported by every `hwnas list`).
"""

from __future__ import annotations

import json
import uuid

from hwnas.arch import Arch
from hwnas.core.failure import failed_result, reason_of
from hwnas.core.outcome import Outcome
from hwnas.errors import HwnasRuntimeError
from hwnas.evaluation.evaluators.base import Evaluator
from hwnas.limits import MAX_THREADS
from hwnas.options import Option, option_error
from hwnas.registry import EVALUATORS

# Ray's errors for a task whose worker process (or node) went away; Ray retries these itself.
LOST_WORKER_ERRORS = ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError",
                      "ObjectLostError", "OwnerDiedError")


@EVALUATORS.register("ray")
class RayEvaluator(Evaluator):
    """Candidates as Ray tasks; `address` '' starts a local Ray for the run."""

    option_specs = {
        "address": Option("", str, help="HOST:PORT (or ray://HOST:PORT, auto) of a running "
                                        "Ray cluster; '' starts a local Ray for this run"),
        "num_cpus": Option(1.0, float, low=0, help="CPUs reserved per candidate"),
        "num_gpus": Option(0.0, float, low=0, help="GPUs reserved per candidate"),
        "max_retries": Option(1, int, low=0, high=10,
                              help="times a candidate whose worker died is tried again"),
        "threads": Option(None, int, low=1, high=MAX_THREADS, none_ok=True,
                          help="torch/BLAS threads per candidate (default: num_cpus, >= 1)"),
        "local_cpus": Option(None, int, low=1, high=MAX_THREADS, none_ok=True,
                             help="CPUs of a local Ray (default: this machine's cores)"),
        "object_store_mb": Option(256, int, low=75, high=65536,
                                  help="object store of a local Ray, MB"),
    }

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        from hwnas.distributed.session import ADDRESS_HELP, address_is_valid

        if not address_is_valid(resolved["address"]):
            raise option_error("address", cls.owner(), ADDRESS_HELP, resolved["address"],
                               f"(options: `{cls.list_command}`)")
        if resolved["address"] and resolved["local_cpus"] is not None:
            raise option_error("local_cpus", cls.owner(), "unset when an address is given "
                               "(it sizes a local Ray)", resolved["local_cpus"],
                               f"(options: `{cls.list_command}`)")
        if not resolved["address"]:  # a local Ray: this machine is its only node
            cls._check_local_fits(resolved)

    @classmethod
    def _check_local_fits(cls, resolved: dict) -> None:
        """A candidate a local Ray could never schedule, refused before Ray starts (starting
        it takes seconds and prints Ray's own log lines) and before the run is written."""
        import os

        cpus = resolved["local_cpus"] or os.cpu_count() or 1
        if resolved["num_cpus"] > cpus:
            raise option_error("num_cpus", cls.owner(), f"<= {cpus} (the CPUs of the local "
                               "Ray; local_cpus sizes it)", resolved["num_cpus"],
                               "Or join a cluster with --evaluator-opt address=HOST:PORT.")
        gpus = _local_gpus()
        if resolved["num_gpus"] > gpus:
            raise option_error("num_gpus", cls.owner(), f"<= {gpus} (the GPUs this machine "
                               "has)", resolved["num_gpus"],
                               "Or join a cluster with GPUs: --evaluator-opt address=HOST:PORT.")

    def __init__(self, task, **options):
        from hwnas.distributed.session import RaySession, import_ray

        import_ray("the ray evaluator")  # the missing extra first: one line, exit 2
        from hwnas.evaluation.evaluators.ray_worker import evaluate_on_worker

        super().__init__(task, **options)
        self.driver_scorer()  # every check of the task before Ray starts (as `local` does)
        opts = self.options
        self.session = RaySession.open(opts["address"], what="the ray evaluator",
                                       local_cpus=opts["local_cpus"],
                                       object_store_mb=opts["object_store_mb"])
        try:
            self._check_schedulable()
        except BaseException:
            self.session.close()
            raise
        self.threads = opts["threads"] or max(1, int(opts["num_cpus"]))
        self._task_json = json.dumps(task.to_dict(), sort_keys=True)
        # retry_exceptions=False: Ray retries lost workers only, never a candidate's own error
        self._remote = self.session.ray.remote(evaluate_on_worker).options(
            num_cpus=opts["num_cpus"], num_gpus=opts["num_gpus"],
            max_retries=opts["max_retries"], retry_exceptions=False)

    def _check_schedulable(self) -> None:
        """A candidate no node can hold would wait forever: refuse it now."""
        from hwnas.errors import BadInputError

        needs = {"CPU": self.options["num_cpus"], "GPU": self.options["num_gpus"]}
        if not self.session.nodes_offering(needs):
            raise BadInputError(
                f"no node of {self.session.description} ({self.session.summary()}) offers "
                f"num_cpus={needs['CPU']:g} num_gpus={needs['GPU']:g} for one candidate; "
                "lower --evaluator-opt num_cpus/num_gpus or add a node that has them")

    def map(self, archs: list[Arch]) -> list[Outcome]:
        ray = self.session.ray
        keys = [f"attempt:{uuid.uuid4().hex}" for _ in archs]
        refs: list = []
        out: list[Outcome] = []
        try:  # from the first submission: a Ctrl-C between two leaves none running
            for arch, key in zip(archs, keys, strict=True):
                refs.append(self._remote.remote(self._task_json, arch.to_dict(), self.threads,
                                                key))
            for ref, key in zip(refs, keys, strict=True):
                out.append(self._collect(ray, ref, key))
        except KeyboardInterrupt:
            for ref in refs[len(out):]:  # nothing keeps training after Ctrl-C
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - already finished or already gone
                    pass
            raise
        return out

    def _collect(self, ray, ref, key: str) -> Outcome:
        from hwnas.evaluation.evaluators.ray_worker import DONE, attempts_of

        try:
            reply = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # hwnas's task code itself broke
            attempts_of(key)
            return Outcome(failed_result(f"ray task error: {reason_of(exc.cause or exc)}"))
        except ray.exceptions.RayError as exc:
            attempts = attempts_of(key)
            if type(exc).__name__ not in LOST_WORKER_ERRORS:  # the cluster itself is gone
                raise HwnasRuntimeError(f"Ray failed while evaluating a candidate: "
                                        f"{reason_of(exc)}; resume the run once the cluster is "
                                        "back (`hwnas search --resume RUN_DIR`)") from exc
            return Outcome(failed_result(self._lost_reason(exc, attempts)))
        attempts_of(key)
        if reply[0] == DONE:
            return reply[1]
        _, reason, where = reply
        raise HwnasRuntimeError(f"the Ray worker ({where}) cannot build this run's scorer: "
                                f"{reason}; every node needs the files and packages the driver "
                                "has (table, benchmark, dataset, plug-ins); fix it and resume "
                                "the run (`hwnas search --resume RUN_DIR`)")

    def _lost_reason(self, exc, attempts: list[str]) -> str:
        last = attempts[-1] if attempts else "a worker whose pid was not recorded"
        tries = len(attempts) or 1 + self.options["max_retries"]
        return (f"worker lost: the Ray worker evaluating it ({last}) died; {tries} "
                f"attempt{'s' if tries != 1 else ''} (max_retries="
                f"{self.options['max_retries']}), all lost ({type(exc).__name__})")

    def close(self) -> None:
        self.session.close()


def _local_gpus() -> int:
    """NVIDIA GPUs this machine shows (what a local Ray would offer), without importing torch
    or starting Ray: the driver lists one folder per GPU; CUDA_VISIBLE_DEVICES narrows it."""
    import os

    try:
        count = len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        count = min(count, len([d for d in visible.split(",") if d.strip()]))
    return count
