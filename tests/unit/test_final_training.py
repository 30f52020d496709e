"""Final training (`hwnas train`): augmentation, a resume that equals the uninterrupted run,
the trained folder's identity, and the accuracy reported on the held-out test split."""

from __future__ import annotations

import json

import pytest
import torch

from hwnas.api import train as job
from hwnas.errors import BadInputError
from hwnas.nn.augment import Augment
from hwnas.trained import TrainedDir
from tests.train_helpers import write_run

EPOCHS = 2


def test_augmentation_translates_within_its_pad_and_repeats_with_its_generator():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    aug = Augment(pad=1, mirror=False, fill=(-1.0, -2.0, -3.0))
    a = aug(x, torch.Generator().manual_seed(5))
    b = aug(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == x.shape and not torch.equal(a, aug(x, torch.Generator()
                                                                           .manual_seed(6)))
    for i in range(2):
        # every output is the input shifted by at most one pixel, padded with the fill value
        shifts = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                padded = torch.nn.functional.pad(x[i] - aug_fill(aug), (1, 1, 1, 1)) + \
                    aug_fill(aug)
                crop = padded[:, 1 + dy:9 + dy, 1 + dx:9 + dx]
                shifts.append(torch.equal(crop, a[i]))
        assert sum(shifts) == 1
    assert torch.equal(x, torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8))


def aug_fill(aug: Augment) -> torch.Tensor:
    return torch.tensor(aug.fill).view(3, 1, 1)


def test_digits_are_never_mirrored_and_natural_images_are():
    assert not Augment.for_dataset("digits", 16, (0.3,) * 3, (0.4,) * 3).mirror
    assert Augment.for_dataset("cifar10", 32, (0.5,) * 3, (0.2,) * 3).mirror
    # the padding is a black pixel after normalisation: (0 - mean) / std
    fill = Augment.for_dataset("digits", 16, (0.3,) * 3, (0.4,) * 3).fill
    assert fill == pytest.approx((-0.75,) * 3)


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    """One uninterrupted final training, the reference the resumed ones must equal."""
    run, keys = write_run(tmp_path_factory.mktemp("once") / "run")
    result = job.train(run.path, arch_key=keys[0], preset="fast", epochs=EPOCHS)
    return run, keys, result


def test_train_writes_weights_curve_and_test_metrics(trained_once):
    run, keys, result = trained_once
    folder = TrainedDir(run.path, keys[0])
    assert folder.finished() and not folder.checkpoint_path.exists()
    assert result["state"] == "new" and result["resolution"] == 16 and result["epochs"] == EPOCHS
    # reported on the held-out test split, at the deploy resolution, beside the proxy's
    assert result["test_size"] == 359 and result["val_size"] == 288
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["proxy"]["accuracy"] == 0.5
    assert "at 8x8" in result["proxy"]["how"]
    curve = json.loads(folder.curve_path.read_text())["epochs"]
    assert [e["epoch"] for e in curve] == [1, 2] and curve[-1]["lr_end"] == 0.0
    training = folder.training()
    assert training["resolution"] == 16 and training["recipe"]["epochs"] == EPOCHS
    assert training["augmentation"] == "random crop (pad 2)"
    # the weights are those of the network the space builds at 16x16, and it learned
    from hwnas.data import load_dataset
    from hwnas.nn.train import evaluate_accuracy
    from hwnas.spaces.proxyless import ProxylessSpace
    from tests.train_helpers import SPACE

    space = ProxylessSpace(**SPACE)
    from hwnas.arch import Arch

    record = run.history()[0]
    model = space.build(Arch.from_dict(record["arch"]))
    model.load_state_dict(folder.load_weights())
    data = load_dataset("digits", 16)
    assert evaluate_accuracy(model, data.test_x, data.test_y) == result["test_accuracy"]
    assert result["test_accuracy"] > 0.3  # chance is 0.1; 2 epochs of a tiny net
    from hwnas.api.runs import show_run

    assert show_run(run.path)["trained"] == [{
        "arch_key": keys[0], "resolution": 16, "epochs": EPOCHS, "epochs_done": EPOCHS,
        "finished": True, "test_accuracy": result["test_accuracy"]}]


class Stop(Exception):
    pass


def test_an_interrupted_training_resumes_to_the_same_weights(trained_once, tmp_path):
    run, keys, reference = trained_once
    again, _ = write_run(tmp_path / "run")

    def stop_after_first(event):
        if event.get("event") == "epoch" and event["epoch"] == 1:
            raise Stop

    with pytest.raises(Stop):
        job.train(again.path, arch_key=keys[0], preset="fast", epochs=EPOCHS,
                  progress=stop_after_first)
    folder = TrainedDir(again.path, keys[0])
    assert folder.checkpoint_path.exists() and not folder.finished()
    events = []
    resumed = job.train(again.path, arch_key=keys[0], preset="fast", epochs=EPOCHS,
                        progress=events.append)
    assert resumed["state"] == "resume"
    assert [e["epoch"] for e in events if e.get("event") == "epoch"] == [2]
    a, b = folder.load_weights(), TrainedDir(run.path, keys[0]).load_weights()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test_accuracy"] == reference["test_accuracy"]


def test_a_finished_training_is_returned_and_another_recipe_refused(trained_once):
    run, keys, reference = trained_once
    done = job.train(run.path, arch_key=keys[0], preset="fast", epochs=EPOCHS)
    assert done["state"] == "done" and done["test_accuracy"] == reference["test_accuracy"]
    before = TrainedDir(run.path, keys[0]).weights_path.read_bytes()
    with pytest.raises(BadInputError) as info:
        job.plan(run.path, arch_key=keys[0], preset="fast", epochs=EPOCHS + 1)
    message = str(info.value)
    assert "recipe.epochs 2, not 3" in message and "--force" in message and "\n" not in message
    assert TrainedDir(run.path, keys[0]).weights_path.read_bytes() == before


@pytest.mark.parametrize("given, needle", [
    ({"epochs": 0}, "'epochs' option of final training must be an int in [1, 10000]"),
    ({"lr": -1.0}, "'lr' option"),
    ({"batch_size": 1}, "'batch_size' option"),
])
def test_a_bad_recipe_is_one_line_before_anything_is_written(tmp_path, given, needle):
    run, keys = write_run(tmp_path / "run")
    with pytest.raises(BadInputError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        job.plan(run.path, arch_key=keys[0], **given)
    assert not (run.path / "trained").exists()


def test_the_resume_command_repeats_the_recipe(tmp_path):
    """Ctrl-C prints a command to resume; it must name the same training, or the resume would
    be refused as another recipe."""
    import shlex

    from hwnas.cli.train_cmd import resume_command, train

    run, keys = write_run(tmp_path / "run")
    planned = job.plan(run.path, arch_key=keys[0], epochs=7, lr=0.05, augment=False, seed=3)
    words = shlex.split(resume_command(planned))
    assert words[:2] == ["hwnas", "train"]
    p = train.make_context("train", words[2:]).params
    again = job.plan(p["run"], arch_key=p["arch"], preset=p["preset"], epochs=p["epochs"],
                     lr=p["lr"], batch_size=p["batch_size"], threads=p["threads"],
                     seed=p["seed"], augment=False if p["no_augment"] else None)
    assert again["identity"] == planned["identity"]
