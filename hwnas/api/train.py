"""`train()`: final training of one candidate of a run, at the configuration it is deployed at.

Every NAS method ends so: the search ranks candidates with a cheap proxy (a few epochs, maybe a
subset of the images, maybe a lower resolution); the chosen network is then trained once with
the full recipe, on the training split, at the space's resolution (the one the latency table
timed and `hwnas export` writes), and reported on the held-out test split, which no search
sees (hwnas.data). Nothing is selected on the test split: the weights are those of the last
epoch, whatever the curve.
"""

from __future__ import annotations

import time
from pathlib import Path

from hwnas.api.candidate import choose, proxy_description, run_space
from hwnas.api.common import Progress, now
from hwnas.errors import BadInputError
from hwnas.fileio import atomic_write_json, check_output
from hwnas.limits import MAX_SEED, MAX_THREADS
from hwnas.options import Option, resolve_options
from hwnas.trained import TrainedDir

# `paper`: the recipe a network is shipped with. 30 epochs with augmentation converge on
# digits (a random proxyless net at 16x16: validation 0.948 / 0.983 / 0.986 / 0.986 after
# 5 / 15 / 20 / 30 epochs, test 0.989); lr 0.1 at batch 64 is the usual CIFAR recipe's rate.
# Larger datasets need longer: NAS papers train CIFAR-10 networks 200-600 epochs (--epochs).
# `fast`: a third of it, for the demo and first tries (the demo's knee reached 0.994 on the
# test split after 10 epochs at 16x16, width 0.5); it has not been compared with `paper` on
# the same networks.
PRESETS = {"paper": {"epochs": 30}, "fast": {"epochs": 10}}
RECIPE_SPECS = {
    "epochs": Option(30, int, low=1, high=10_000),
    "batch_size": Option(64, int, low=2, high=65_536),
    "lr": Option(0.1, float, low=0, low_open=True, high=10),
    "weight_decay": Option(5e-4, float, low=0, high=1),
    "label_smoothing": Option(0.1, float, low=0, high=1, high_open=True),
    "augment": Option(True, bool),
    "threads": Option(1, int, low=1, high=MAX_THREADS),
    "seed": Option(None, int, low=0, high=MAX_SEED, none_ok=True),
}


def resolve_recipe(preset: str = "paper", **given) -> dict:
    """The recipe's values: the preset's over the defaults, then what was given (None: not
    given); one line for an unknown preset or a value out of range."""
    if preset not in PRESETS:
        raise BadInputError(f"unknown final-training preset {preset!r}; allowed: "
                            f"{', '.join(PRESETS)}")
    options = {**PRESETS[preset], **{k: v for k, v in given.items() if v is not None}}
    return resolve_options("final training", RECIPE_SPECS, options,
                           "(see `hwnas train --help`)")


def plan(run_path: str | Path, *, pick: list[str] | None = None, arch_key: str | None = None,
         preset: str = "paper", force: bool = False, **recipe) -> dict:
    """Everything `train` will do, checked, nothing written: the run, its config, the record,
    the trained directory, the training's identity and whether it resumes or is done."""
    options = resolve_recipe(preset, **recipe)  # pure: before any file is read
    run, config, record = choose(run_path, pick=pick, arch_key=arch_key, job="train")
    if options["seed"] is None:
        options["seed"] = int(config["search"].get("seed", 0))
    space = run_space(config)
    resolution = int(space.input_shape[-1])
    identity = {"arch_key": record["arch_key"], "space": config["search"]["space"],
                "space_config": space.config(), "dataset": config["search"]["dataset"],
                "resolution": resolution, "recipe": options}
    trained = TrainedDir(run.path, record["arch_key"])
    differs = trained.differences(identity)
    if differs and not force:
        raise BadInputError(f"{trained.path} holds a training of {record['arch_key']} with "
                            f"{'; '.join(differs[:3])}; pass the same options to resume or "
                            "see it, or --force to train again from scratch")
    check_output(trained.path, "the run's trained folder", folder=True)
    state = ("done" if trained.finished() and not force else
             "resume" if trained.checkpoint_path.exists() and not force else "new")
    return {"run": run, "config": config, "record": record, "space": space,
            "trained": trained, "identity": identity, "state": state}


def train(run_path: str | Path, *, pick: list[str] | None = None,
          arch_key: str | None = None, preset: str = "paper", force: bool = False,
          progress: Progress = None, planned: dict | None = None, **recipe) -> dict:
    """Train the chosen candidate (the knee by default) with the recipe and write
    RUN/trained/<key>/ (see hwnas.trained). A training that was interrupted resumes from its
    last epoch; one that finished is returned as it is (force: train again). Returns the
    metrics, with "state" (new, resume or done) and the folder."""
    p = planned or plan(run_path, pick=pick, arch_key=arch_key, preset=preset, force=force,
                        **recipe)
    trained: TrainedDir = p["trained"]
    metrics = trained.metrics() if p["state"] == "done" else None
    if metrics is not None:  # None only if the metrics were damaged since plan(): train again
        return {**metrics, "state": "done", "folder": str(trained.path)}
    with trained.writing():
        if force:
            trained.clear()
        return _train(p, trained, progress)


def _train(p: dict, trained: TrainedDir, progress: Progress) -> dict:
    from hwnas.arch import Arch
    from hwnas.data import load_dataset
    from hwnas.nn import train as nt
    from hwnas.nn.augment import Augment
    from hwnas.nn.final import Recipe, train_final
    from hwnas.versions import versions

    config, record, space, identity = p["config"], p["record"], p["space"], p["identity"]
    resolution = identity["resolution"]
    data = load_dataset(identity["dataset"], resolution)
    if data.num_classes != int(space.num_classes):
        raise BadInputError(f"dataset {identity['dataset']!r} has {data.num_classes} classes "
                            f"but the run's space builds nets with {space.num_classes} outputs")
    recipe = Recipe(**identity["recipe"])
    augment = Augment.for_dataset(data.name, resolution, data.mean, data.std)
    resumed = trained.checkpoint_path.exists()
    atomic_write_json(trained.training_path, {
        **identity, "arch": record["arch"], "arch_str": record.get("arch_str"),
        "arch_short": record.get("arch_short"), "augmentation": augment.describe()
        if recipe.augment else "none", "run": str(p["run"].path),
        "split_sizes": {"train": len(data.train_y), "val": len(data.val_y),
                        "test": len(data.test_y)},
        "table_hash": (config.get("table") or {}).get("hash"), "versions": versions(),
        "created": now()})
    arch = Arch.from_dict(record["arch"])
    start = time.perf_counter()

    def on_epoch(event: dict) -> None:
        if "curve" in event:
            atomic_write_json(trained.curve_path, {"epochs": event["curve"]})
        if progress:
            progress({k: v for k, v in event.items() if k != "curve"})

    if resumed and progress:
        progress({"event": "notice", "summary": f"resuming the final training of "
                  f"{record['arch_key']} from its last checkpoint ({trained.checkpoint_path})"})
    model, curve = train_final(lambda: space.build(arch), (data.train_x, data.train_y),
                               (data.val_x, data.val_y), recipe,
                               augment if recipe.augment else None, trained.checkpoint_path,
                               on_epoch)
    atomic_write_json(trained.curve_path, {"epochs": curve})
    metrics = {
        "arch_key": record["arch_key"], "resolution": resolution,
        "test_accuracy": nt.evaluate_accuracy(model, data.test_x, data.test_y),
        "val_accuracy": nt.evaluate_accuracy(model, data.val_x, data.val_y),
        "train_loss": curve[-1]["train_loss"], "epochs": recipe.epochs,
        "test_size": len(data.test_y), "val_size": len(data.val_y),
        "train_size": len(data.train_y),
        "seconds": sum(e["seconds"] for e in curve), "seconds_this_process":
            time.perf_counter() - start,
        "proxy": {"accuracy": record["result"].get("accuracy"),
                  "how": proxy_description(config, record), "split": "val"},
        "finished": now()}
    trained.save_weights(model.state_dict())
    atomic_write_json(trained.metrics_path, metrics)  # last: its presence means finished
    trained.checkpoint_path.unlink(missing_ok=True)  # the weights say all it did now
    return {**metrics, "state": "resume" if resumed else "new", "folder": str(trained.path)}

