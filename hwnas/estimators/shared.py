"""`shared`: accuracy with weights inherited from one supernet (weight sharing).

The first `estimate` trains one supernet of the space (hwnas.oneshot.supernet: every option of
every position, built from the space's own ops) by uniform single-path sampling: each minibatch
runs one path drawn uniformly per position, and one SGD step updates only that path's weights
(hwnas.oneshot.single_path; SPOS's supernet training, Guo et al. 2019). The trained supernet is
kept in memory for the rest of the run. Every `estimate(arch)` then scores the child `arch`
with the weights it inherits, after re-estimating its BatchNorm statistics on `bn_batches`
training minibatches (the same images for every candidate): no candidate is trained.

`supernet_weights` (hwnas.oneshot.weight_options): `entangled` (the default) lets the nested
candidates of a position (kernel 3/5/7, expansion 3/6) share one tensor, so a step through any
of them trains the shared part and a candidate inherits the slice it uses; `separate` gives
every candidate its own weights. BatchNorm is per candidate either way.

With `--method random` this is weight-sharing random search, the baseline of Li & Talwalkar
(2019) that ENAS-style methods are measured against; SPOS's evolution scores its candidates
the same way. The space must define `positions()` (proxyless, nb201, fbnet do).

Defaults are sized for the embedded digits dataset on a 2-core CPU; `resolution=16` or
`train_subset=...` make it cheaper. Measured on digits at 16x16, proxyless space, one thread on
a loaded 2-core machine: one epoch of the supernet takes about 20 s; with separate weights a
uniformly sampled supernet learns far more slowly than one network does (training accuracy
0.20 after 10 epochs at lr 0.2, where one fixed path of the same supernet reaches 0.99 in 4
epochs and 0.955 validation accuracy, the same as `scratch`), with entangled weights its
networks reach 0.97 held-out accuracy within 400 steps (BENCHMARKS.md, "Entangled or separate
supernet weights").
"""

from __future__ import annotations

import time

from hwnas.devices import Device
from hwnas.errors import CandidateFailed
from hwnas.estimators.base import Estimate, Option
from hwnas.estimators.scratch import ScratchEstimator
from hwnas.limits import MAX_BATCH, MAX_EPOCHS, MAX_RESOLUTION, MAX_STEPS, MAX_SUBSET, MAX_THREADS
from hwnas.oneshot.weight_options import WEIGHT_OPTIONS
from hwnas.registry import ESTIMATORS

CALIBRATION_SEED = 2  # which training minibatches re-estimate BatchNorm (same for every arch)


@ESTIMATORS.register("shared")
class SharedWeightsEstimator(ScratchEstimator):
    """Inherited-weight accuracy from one uniformly trained single-path supernet."""

    option_specs = {
        "epochs": Option(5, int, low=1, high=MAX_EPOCHS,
                         help="supernet training epochs (uniform single path)"),
        "batch_size": Option(64, int, low=2, high=MAX_BATCH),
        "lr": Option(0.05, float, low=0, low_open=True, help="SGD, cosine-decayed per step"),
        "weight_decay": Option(5e-4, float, low=0),
        "label_smoothing": Option(0.1, float, low=0, high=1, high_open=True),
        "bn_batches": Option(4, int, low=1, high=MAX_STEPS,
                             help="training minibatches that re-estimate BatchNorm per candidate"),
        "train_subset": Option(None, int, low=4, high=MAX_SUBSET, none_ok=True),
        "resolution": Option(None, int, low=1, high=MAX_RESOLUTION, none_ok=True,
                             help="input size (default: the space's)"),
        **WEIGHT_OPTIONS,
        "device": Device(),
        "threads": Option(None, int, low=1, high=MAX_THREADS, none_ok=True),
    }

    proxy_training = False  # no candidate is trained: `epochs` trains the supernet

    @classmethod
    def summary(cls, options: dict) -> str:
        """Its name alone: `epochs` trains the supernet, no candidate is trained."""
        return cls.registry_name

    def _resolve(self, given: dict) -> dict:
        resolved = super()._resolve(given)
        self.space.check_supernet("estimator 'shared'")
        return resolved

    def estimate(self, arch) -> Estimate:
        import torch

        from hwnas.nn import train as nt
        from hwnas.oneshot.single_path import inherited_accuracy

        opts = self.options
        train_x, train_y, val_x, val_y = self._data(opts)
        start = time.perf_counter()
        device = torch.device(opts["device"])
        with nt.torch_threads(opts["threads"]), nt.forked_rng(device):
            supernet, calib = self._supernet(opts, train_x, train_y, device)
            if self._failure is not None:
                raise CandidateFailed(self._failure)
            accuracy = inherited_accuracy(supernet, arch, calib, val_x, val_y)
        log = self._log
        extra = {"inherited": True, "supernet_epochs": len(log["losses"]),
                 "supernet_train_loss": log["losses"][-1],
                 "supernet_train_acc": log["accuracies"][-1],
                 "supernet_seconds": log["seconds"], "bn_batches": len(calib),
                 "resolution": int(train_x.shape[-1]), "train_size": int(len(train_y)),
                 "val_size": int(len(val_y))}
        return Estimate(accuracy=accuracy, seconds=time.perf_counter() - start, epochs=0,
                        extra=extra)

    def _supernet(self, opts: dict, train_x, train_y, device):
        """The trained supernet and the calibration minibatches, built on first use."""
        cached = self.__dict__.get("_trained")
        if cached is not None:
            return cached
        from hwnas.nn import train as nt
        from hwnas.oneshot.single_path import calibration_batches, train_uniform

        start = time.perf_counter()
        config = nt.TrainConfig(opts["epochs"], opts["batch_size"], opts["lr"],
                                opts["weight_decay"], opts["label_smoothing"])
        with nt.deterministic_cudnn(device):
            supernet, stats = train_uniform(self.space, train_x, train_y, config,
                                            seed=self.seed, device=device,
                                            weights=opts["supernet_weights"],
                                            kernel_transform=opts["kernel_transform"])
        self._failure = None
        if stats[-1].diverged:  # every candidate would inherit NaN weights: none is scored
            self._failure = (f"the shared supernet diverged: loss {stats[-1].loss} in epoch "
                             f"{len(stats)}; lower the estimator's lr")
        calib = calibration_batches(train_x, opts["batch_size"], opts["bn_batches"],
                                    CALIBRATION_SEED)
        self._log = {"losses": [s.loss for s in stats], "accuracies": [s.accuracy for s in stats],
                     "seconds": time.perf_counter() - start}
        self._trained = (supernet, calib)
        return self._trained
