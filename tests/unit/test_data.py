"""hwnas.data: digits, a fake CIFAR-10 folder, an image folder, and one-line bad-input errors."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from hwnas import data as data_module
from hwnas.data import (
    DatasetSpec,
    dataset_classes,
    load_dataset,
    parse_dataset_spec,
    stratified_split,
)
from hwnas.errors import BadInputError


def test_digits_shapes_classes_and_normalisation():
    d = load_dataset("digits", 8)
    assert d.name == "digits"
    assert len(d.train_y) + len(d.val_y) + len(d.test_y) == 1797
    # test: round(0.2 * 1797) = 359 held out first; val: round(0.2 * 1438) = 288 of the rest
    assert (len(d.train_y), len(d.val_y), len(d.test_y)) == (1150, 288, 359)
    assert d.train_x.shape == (1150, 3, 8, 8) and d.val_x.shape == (288, 3, 8, 8)
    assert d.test_x.shape == (359, 3, 8, 8)
    assert d.train_x.dtype == torch.float32 and d.train_y.dtype == torch.int64
    assert d.num_classes == 10 and d.class_names == tuple(str(i) for i in range(10))
    mean, std = d.train_x.mean(dim=(0, 2, 3)), d.train_x.std(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.zeros(3), atol=1e-5)
    assert torch.allclose(std, torch.ones(3), atol=1e-4)
    assert torch.equal(d.train_x[:, 0], d.train_x[:, 2])  # grey replicated to 3 channels
    # the statistics a deployment needs, those of the raw training pixels in [0, 1]
    assert len(d.mean) == len(d.std) == 3 and 0 < d.mean[0] < 1 and d.std[0] > 0


def test_digits_split_is_stratified_disjoint_and_fixed():
    d = load_dataset("digits", 8)
    all_y = torch.cat([d.train_y, d.val_y, d.test_y])
    for c in range(10):
        n_c, t_c = int((all_y == c).sum()), int((d.test_y == c).sum())
        assert abs(t_c - 0.2 * n_c) <= 1
    # no image in two splits: the test split is held out from what a search sees
    rows = {split: {tuple(x.flatten().tolist()) for x in xs}
            for split, xs in (("train", d.train_x), ("val", d.val_x), ("test", d.test_x))}
    # digits has no duplicate images (1797 distinct), so the splits' images must not meet
    assert sum(map(len, rows.values())) == len(all_y)
    assert not rows["test"] & (rows["train"] | rows["val"]) and not rows["train"] & rows["val"]
    data_module._load_cached.cache_clear()  # a fresh decode must give the very same split
    again = load_dataset("digits", 8)
    assert again is not d
    assert torch.equal(again.train_y, d.train_y) and torch.equal(again.val_x, d.val_x)
    assert torch.equal(again.test_x, d.test_x)
    assert load_dataset("digits", 8) is again  # cached per (spec, resolution)


def test_resize_keeps_split_and_changes_shape():
    small, big = load_dataset("digits", 8), load_dataset("digits", 20)
    assert big.train_x.shape == (1150, 3, 20, 20) and big.test_x.shape == (359, 3, 20, 20)
    assert torch.equal(small.train_y, big.train_y) and torch.equal(small.test_y, big.test_y)
    other = load_dataset("digits", 8, val_fraction=0.5)
    assert len(other.val_y) == 719 and torch.equal(other.test_y, small.test_y)


@pytest.mark.parametrize("spec, expected", [
    ("digit", "did you mean 'digits'"),
    ("cifar:/x", "did you mean 'cifar10:PATH'"),
    ("mnist", "allowed: digits, cifar10:PATH, imagefolder:PATH"),
    ("", "allowed: digits, cifar10:PATH, imagefolder:PATH"),
    ("cifar10", "cifar10:PATH"),
    ("imagefolder:", "imagefolder:PATH"),
    ("digits:/tmp", "takes no path"),
    ("cifar10:/no/such/folder", "does not exist"),
])
def test_bad_specs_give_one_line(spec, expected):
    with pytest.raises(BadInputError) as info:
        load_dataset(spec, 8)
    message = str(info.value)
    assert "\n" not in message and expected in message


@pytest.mark.parametrize("resolution, fraction", [(0, 0.2), (True, 0.2), (8, 0.0), (8, 1.0)])
def test_bad_resolution_or_fraction(resolution, fraction):
    with pytest.raises(BadInputError):
        load_dataset("digits", resolution, val_fraction=fraction)


def test_stratified_split_exact_disjoint_and_proportional():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    first, rest = stratified_split(y, 10)
    assert len(first) == 10 and len(rest) == 90
    assert set(first).isdisjoint(rest) and set(first) | set(rest) == set(range(100))
    assert np.bincount(y[first]).tolist() == [5, 3, 2]
    assert np.array_equal(stratified_split(y, 10)[0], first)  # fixed seed
    assert np.bincount(y[stratified_split(y, 7)[0]]).sum() == 7  # exact even when rounding


# --- CIFAR-10 ---------------------------------------------------------------------------------

def _write_cifar(root, per_batch=4, n_test=5, seed=0):
    """The cifar-10-batches-py layout: pickled dicts with uint8 'data' (N, 3072) and 'labels'."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for name, n in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", n_test)]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        entry = {"batch_label": name, "labels": labels, "data": data,
                 "filenames": [f"{name}_{i}.png" for i in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        batches[name] = (data, labels)
    names = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": per_batch}, f, protocol=2)
    return folder, batches, names


def test_fake_cifar_is_read_in_chw_layout(tmp_path):
    folder, batches, names = _write_cifar(tmp_path)
    d = load_dataset(f"cifar10:{tmp_path}", 32)
    train = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    raw = torch.from_numpy(train).float().div(255).view(-1, 3, 32, 32)
    # the official test batch is the test split; validation is held out of the training batches
    assert d.train_x.shape == (16, 3, 32, 32) and d.val_x.shape == (4, 3, 32, 32)
    assert d.test_x.shape == (5, 3, 32, 32)
    labels = torch.tensor(sum((batches[f"data_batch_{i}"][1] for i in range(1, 6)), []))
    val_idx, train_idx = stratified_split(labels.numpy(), 4)
    raw_train = raw[train_idx]
    mean = raw_train.mean(dim=(0, 2, 3), keepdim=True)
    std = raw_train.std(dim=(0, 2, 3), keepdim=True)
    assert torch.allclose(d.train_x, (raw_train - mean) / std, atol=1e-5)
    assert torch.allclose(d.val_x, (raw[val_idx] - mean) / std, atol=1e-5)
    test_raw = torch.from_numpy(batches["test_batch"][0]).float().div(255).view(-1, 3, 32, 32)
    assert torch.allclose(d.test_x, (test_raw - mean) / std, atol=1e-5)  # train statistics
    assert d.train_y.tolist() == labels[train_idx].tolist()
    assert d.test_y.tolist() == batches["test_batch"][1]
    assert d.class_names == tuple(names) and d.num_classes == 10
    # the batches folder itself is accepted too, and a lower resolution resizes
    assert load_dataset(f"cifar10:{folder}", 16).train_x.shape == (16, 3, 16, 16)


def test_cifar_wrong_layout_names_expected_folder(tmp_path):
    with pytest.raises(BadInputError) as info:
        load_dataset(f"cifar10:{tmp_path}", 32)
    assert "must point at the folder holding cifar-10-batches-py" in str(info.value)
    folder, _, _ = _write_cifar(tmp_path / "c")
    (folder / "data_batch_3").unlink()
    with pytest.raises(BadInputError, match="missing data_batch_3"):
        parse_dataset_spec(f"cifar10:{tmp_path / 'c'}")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned_marker",))


def test_cifar_batches_are_never_unpickled_unsafely(tmp_path, monkeypatch):
    folder, _, _ = _write_cifar(tmp_path)
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump({"data": _Evil(), "labels": []}, f, protocol=2)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInputError) as info:
        load_dataset(f"cifar10:{tmp_path}", 32)
    assert "refusing to unpickle" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "pwned_marker").exists()


# --- image folder -----------------------------------------------------------------------------

def _write_images(root):
    sizes = [(20, 30), (30, 20), (16, 16), (40, 24), (25, 25)]
    for cls, color in [("blue", (0, 0, 255)), ("red", (255, 0, 0))]:
        (root / cls).mkdir(parents=True)
        for i, size in enumerate(sizes):
            img = Image.new("RGB", size, color)
            if i == 1:
                img = img.convert("RGBA")  # must come back as RGB
            img.save(root / cls / f"{i}.png")


def test_imagefolder_resized_rgb_stratified(tmp_path):
    _write_images(tmp_path)
    d = load_dataset(f"imagefolder:{tmp_path}", 12)
    assert d.class_names == ("blue", "red") and d.num_classes == 2
    assert d.train_x.shape == (6, 3, 12, 12) and d.val_x.shape == (2, 3, 12, 12)
    assert d.test_x.shape == (2, 3, 12, 12)
    assert sorted(d.val_y.tolist()) == sorted(d.test_y.tolist()) == [0, 1]  # one of each class
    x = torch.cat([d.train_x, d.val_x, d.test_x]).mean(dim=(2, 3))
    y = torch.cat([d.train_y, d.val_y, d.test_y])
    assert bool((x[y == 1, 0] > x[y == 1, 2]).all())  # red images: red channel above blue
    assert bool((x[y == 0, 2] > x[y == 0, 0]).all())


def test_imagefolder_bad_layouts(tmp_path):
    with pytest.raises(BadInputError) as info:
        load_dataset(f"imagefolder:{tmp_path}", 8)  # empty folder
    assert "one sub-folder of images per class" in str(info.value)
    assert "\n" not in str(info.value)
    (tmp_path / "only").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "only" / "a.png")
    with pytest.raises(BadInputError, match="need >= 2"):
        load_dataset(f"imagefolder:{tmp_path}", 8)


def test_dataset_classes_match_loaded_without_decoding(tmp_path):
    assert dataset_classes("digits") == load_dataset("digits", 8).class_names
    _write_images(tmp_path / "imgs")
    assert dataset_classes(f"imagefolder:{tmp_path / 'imgs'}") == ("blue", "red")
    _, _, names = _write_cifar(tmp_path / "c")
    assert dataset_classes(f"cifar10:{tmp_path / 'c'}") == tuple(names)


def test_parse_dataset_spec_forms(tmp_path):
    assert parse_dataset_spec("digits") == DatasetSpec("digits", None)
    folder, _, _ = _write_cifar(tmp_path)
    assert parse_dataset_spec(f"cifar10:{tmp_path}") == DatasetSpec("cifar10", folder)
    assert parse_dataset_spec(f"imagefolder:{tmp_path}").kind == "imagefolder"
