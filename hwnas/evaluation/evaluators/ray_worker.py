"""What runs inside a Ray worker process: one candidate, scored by a scorer rebuilt from the
plain `EvaluationTask` and cached for the life of the process.

A Ray worker process serves many tasks one after another, so rebuilding the scorer (loading
a benchmark, a latency table, a dataset) per candidate would cost more than many candidates;
`_SCORERS` keeps one per task (keyed by the task's JSON). The driver's live objects are never
shipped: only the task's JSON and the architecture's plain dict travel.

Each attempt is noted in Ray's key-value store under a key the driver chose, with this
process's pid and node, before any work starts: when the process dies mid-candidate, Ray
tells the driver only that "the worker died", and the note is how the failure record can name
which worker was lost and how many attempts were made.
"""

from __future__ import annotations

import json
import os
import socket
import sys

from hwnas.arch import Arch
from hwnas.core.failure import reason_of
from hwnas.core.outcome import Outcome
from hwnas.evaluation.evaluators.base import evaluate_candidate
from hwnas.evaluation.task import EvaluationTask
from hwnas.threads import limit_threads

KV_NAMESPACE = "hwnas"
_SCORERS: dict[str, object] = {}

DONE = "done"
SETUP_FAILED = "setup-failed"


def evaluate_on_worker(task_json: str, arch: dict, threads: int, attempt_key: str) -> tuple:
    """(DONE, Outcome) for one candidate; (SETUP_FAILED, reason, where) when this worker
    cannot build the task's scorer (a file or package its node lacks), which would fail every
    candidate it is given: the driver stops the run instead of recording them all failed."""
    note_attempt(attempt_key)
    cap_threads(threads)
    try:
        scorer = _scorer(task_json)
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which stops the run
        return SETUP_FAILED, reason_of(exc), where()
    with limit_threads(threads):
        outcome = evaluate_candidate(scorer, Arch.from_dict(arch))
    return DONE, _portable(outcome)


def _scorer(task_json: str):
    if task_json not in _SCORERS:
        _SCORERS.clear()  # one task per run: do not keep an earlier run's datasets alive
        _SCORERS[task_json] = EvaluationTask.from_dict(json.loads(task_json)).build_scorer()
    return _SCORERS[task_json]


def cap_threads(threads: int) -> None:
    """Train on the CPUs Ray reserved for this task, not on every core of the node: the
    environment covers libraries loaded later (torch reads it when first imported), torch's
    own setting those already loaded; `limit_threads` the BLAS pools around the candidate."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _portable(outcome: Outcome) -> Outcome:
    """Weights as CPU tensors: a GPU tensor pickled back would need a GPU on the driver."""
    if not outcome.state_dict:
        return outcome
    state = {k: v.detach().to("cpu") if hasattr(v, "detach") else v
             for k, v in outcome.state_dict.items()}
    return Outcome(outcome.result, state, outcome.seconds, outcome.extra)


def where() -> str:
    """'pid 123 on 10.0.0.5': this worker process and its node, as Ray names nodes."""
    try:
        import ray

        node = ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - only a label; the host name will do
        node = socket.gethostname()
    return f"pid {os.getpid()} on {node}"


def note_attempt(key: str) -> None:
    """Append this process to the attempts noted under `key` (see the module docstring)."""
    from ray.experimental import internal_kv

    raw = internal_kv._internal_kv_get(key, namespace=KV_NAMESPACE)
    attempts = json.loads(raw) if raw else []
    attempts.append(where())
    internal_kv._internal_kv_put(key, json.dumps(attempts), overwrite=True,
                                 namespace=KV_NAMESPACE)


def attempts_of(key: str, forget: bool = True) -> list[str]:
    """The workers noted under `key`, oldest first (driver side); the note is then deleted."""
    from ray.experimental import internal_kv

    raw = internal_kv._internal_kv_get(key, namespace=KV_NAMESPACE)
    if forget:
        internal_kv._internal_kv_del(key, namespace=KV_NAMESPACE)
    return json.loads(raw) if raw else []
