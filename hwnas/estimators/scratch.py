"""`scratch`: train each candidate from scratch for a few epochs and report validation accuracy.

A cheap proxy (few epochs, optional stratified subset, optional lower resolution — the spaces'
nets are fully convolutional) whose ranking of candidates is what a search needs, not the
final accuracy. The training recipe (SGD with Nesterov momentum 0.9, per-step cosine decay of
the learning rate to 0, label smoothing, in-memory batches, BatchNorm recalibration) is
hwnas.nn.train, shared with the supernet trainers. torch is imported only when an estimate is
asked for, so listing plug-ins and reading a run's options stay light.

Default lr 0.2 (batch 64), measured on digits, 3 epochs, mean of seeds 0-2: a 6-block MBConv
net (expand 4, ~51k params) reaches 0.967 / 0.981 / 0.971 validation accuracy at resolution
8 / 16 / 32 (lr 0.1: 0.964 / 0.977 / 0.964; AdamW at its best lr 0.01: 0.966 / 0.975 at 8 / 16),
and shallow nets gain most from the higher rate (a 2-conv net at 8: 0.93 vs 0.88 with lr 0.1).
"""

from __future__ import annotations

import time

from hwnas.devices import Device
from hwnas.errors import BadInputError, CandidateFailed, HwnasRuntimeError
from hwnas.estimators.base import Estimate, Estimator, Option
from hwnas.limits import MAX_BATCH, MAX_EPOCHS, MAX_RESOLUTION, MAX_SUBSET, MAX_THREADS
from hwnas.registry import ESTIMATORS


@ESTIMATORS.register("scratch")
class ScratchEstimator(Estimator):
    """Trains `space.build(arch)` from scratch and reports validation accuracy.

    Same seed + arch + options give the same accuracy, bit for bit, on the same device type and
    thread count (a different `threads` can change float summation order and the last digits).
    """

    # `--preset fast` (what `hwnas demo` runs): seconds per candidate on digits, whose 8x8
    # images lose nothing at 16x16; its accuracies rank networks coarsely.
    presets = {"fast": {"epochs": 2, "resolution": 16, "train_subset": 768}}
    proxy_training = True
    option_specs = {
        "epochs": Option(3, int, low=1, high=MAX_EPOCHS),
        "batch_size": Option(64, int, low=1, high=MAX_BATCH),
        "lr": Option(0.2, float, low=0, low_open=True),  # see module docstring
        "weight_decay": Option(5e-4, float, low=0),
        "label_smoothing": Option(0.1, float, low=0, high=1, high_open=True),
        "train_subset": Option(None, int, low=1, high=MAX_SUBSET, none_ok=True),
        "resolution": Option(None, int, low=1, high=MAX_RESOLUTION, none_ok=True),
        "keep_weights": Option(False, bool),
        "drop_path": Option(0.0, float, low=0, high=1, high_open=True,
                            help="ScheduledDropPath's final rate (NASNet), reached linearly "
                                 "from 0 over the training; 0: off; spaces with drop-path "
                                 "points only (nasnet)"),
        "device": Device(),
        "threads": Option(None, int, low=1, high=MAX_THREADS, none_ok=True),
    }

    @classmethod
    def summary(cls, options: dict) -> str:
        """"scratch (3 epochs at 16 px)": a few epochs' accuracy ranks networks, it is not
        what one trained fully reaches."""
        if options.get("epochs") is None:
            return cls.registry_name
        return (f"{cls.registry_name} ({options['epochs']} epochs at "
                f"{options.get('resolution', '?')} px)")

    def estimate(self, arch) -> Estimate:
        """Build, train and evaluate; `seconds` leaves out the one-off dataset load.

        A training whose loss stops being finite, or that leaves non-finite weights, raises
        `CandidateFailed` with the reason (the evaluator records the candidate as failed)."""
        import torch

        from hwnas.nn import train as nt
        from hwnas.nn.drop_path import DropPathSchedule

        opts = self.options
        train_x, train_y, val_x, val_y = self._data(opts)
        start = time.perf_counter()
        device = torch.device(opts["device"])
        config = nt.TrainConfig(opts["epochs"], opts["batch_size"], opts["lr"],
                                opts["weight_decay"], opts["label_smoothing"])
        with (nt.torch_threads(opts["threads"]), nt.forked_rng(device),
              nt.deterministic_cudnn(device)):
            torch.manual_seed(self.seed)  # weight init; the global RNG is restored afterwards
            try:
                model = self.space.build(arch).to(device)
                shuffle = torch.Generator().manual_seed(self.seed)
                drop = (DropPathSchedule(model, opts["drop_path"])
                        if opts.get("drop_path") else None)
                result = nt.train(model, train_x, train_y, config, shuffle,
                                  self._epoch_hook(train_x, val_x, val_y, config), drop)
                if result.diverged:  # NaN weights score chance: a result that is no result
                    raise CandidateFailed(result.divergence())
                if drop is not None:
                    drop.off()  # BN recalibration runs in train mode: every path, as in eval
                nt.recalibrate_bn(model, train_x, config.batch_size)
                if nt.non_finite_tensors(model.state_dict()):  # e.g. overflowing BN statistics
                    raise CandidateFailed("non-finite weights after training")
                accuracy = nt.evaluate_accuracy(model, val_x, val_y)
            except CandidateFailed:
                raise  # already the reason to record (and a RuntimeError: not re-wrapped)
            except RuntimeError as e:  # e.g. a proxy resolution too small for the net's pooling
                first = " ".join(str(e).split())[:300]
                raise HwnasRuntimeError(f"training {arch} at resolution {train_x.shape[-1]} "
                                        f"failed: {first}") from e
        state = ({k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                 if opts["keep_weights"] else None)
        extra = {"train_loss": result.loss,
                 "resolution": int(train_x.shape[-1]),
                 "train_size": int(len(train_y)), "val_size": int(len(val_y))}
        return Estimate(accuracy=accuracy, seconds=time.perf_counter() - start,
                        epochs=opts["epochs"], state_dict=state, extra=extra)

    def _resolve(self, given: dict) -> dict:
        resolved = super()._resolve(given)
        if resolved.get("drop_path"):
            self._check_drop_path_points()
        return resolved

    def _check_drop_path_points(self) -> None:
        """Refuse `drop_path` now, in one line, for a space whose networks have none of the
        points it drops (a chain of MBConv layers), rather than train without it."""
        from hwnas.nn.drop_path import drop_path_points

        if not drop_path_points(self.space.build(self.space.default_arch())):
            raise BadInputError(f"estimator option drop_path needs a space whose networks "
                                f"have drop-path points (cells: nasnet); space "
                                f"{self.space.name!r} has none: leave drop_path at 0")

    def _epoch_hook(self, train_x, val_x, val_y, config):
        """`on_epoch` for hwnas.nn.train.train: None here; a subclass that watches (or stops)
        the training epoch by epoch returns one (the `curve` estimator)."""
        return None

    def _data(self, opts: dict):
        """Tensors on the target device, built once per estimator (a search reuses it)."""
        from hwnas.data import load_dataset, stratified_split

        resolution = opts["resolution"] or int(self.space.input_shape[-1])
        key = (self.dataset, resolution, opts["train_subset"], opts["device"])
        cache = self.__dict__.setdefault("_data_cache", {})
        if key not in cache:
            data = load_dataset(self.dataset, resolution)
            if data.num_classes != int(self.space.num_classes):
                raise BadInputError(f"dataset {self.dataset!r} has {data.num_classes} classes but "
                                    f"the space builds nets with {self.space.num_classes} outputs")
            train_x, train_y = data.train_x, data.train_y
            if opts["train_subset"] is not None and opts["train_subset"] < len(train_y):
                # Fixed (seed 0) so every candidate and every run trains on the same images.
                idx, _ = stratified_split(train_y.numpy(), opts["train_subset"])
                train_x, train_y = train_x[idx], train_y[idx]
            cache.clear()  # one configuration per estimator in practice: keep memory bounded
            cache[key] = tuple(t.to(opts["device"]) for t in
                               (train_x, train_y, data.val_x, data.val_y))
        return cache[key]

