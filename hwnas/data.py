"""Datasets as in-memory tensors: embedded `digits`, `cifar10:PATH`, `imagefolder:PATH`.

A search trains hundreds of small proxies, so every dataset is decoded once, resized to the asked
resolution, normalised with the training split's per-channel mean/std and kept in memory
(`load_dataset` is cached per process). Splits are fixed (seed 0) and do not depend on a
search's seed, so every run and every candidate is scored on the same images.

Three splits: `train` (what searches and final training fit), `val` (what a search scores
candidates on, and so selects on) and `test`, held out from everything a search sees: only
`hwnas train` and `hwnas export` report on it, so the accuracy a user is shown for the network
they ship was never used to choose it. CIFAR-10's test set is its official one; digits and an
image folder hold out `test_fraction` of their images first, then `val_fraction` of the rest.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hwnas.errors import BadInputError

if TYPE_CHECKING:  # torch is imported where images are decoded: parsing a spec must stay light
    import torch

ALLOWED_FORMS = ("digits", "cifar10:PATH", "imagefolder:PATH")
_KINDS = ("digits", "cifar10", "imagefolder")
SPLIT_SEED = 0  # fixed on purpose: independent of search seeds
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
# The extensions torchvision's ImageFolder reads (IMG_EXTENSIONS).
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck")
MAX_BYTES = 16 * 2**30  # refuse to materialise more than this rather than be killed for memory


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed spec: `kind` is digits, cifar10 or imagefolder; `path` is None for digits."""

    kind: str
    path: Path | None = None


@dataclass(frozen=True, eq=False)
class Dataset:
    """Normalised float32 images (N, 3, R, R), int64 labels. Shared by the cache: never mutate."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    class_names: tuple[str, ...]
    # per channel, of the training split's pixels in [0, 1] at this resolution: what a
    # deployed network's input must be normalised with (written into an export's metadata)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @property
    def resolution(self) -> int:
        return int(self.train_x.shape[-1])


def parse_dataset_spec(spec: str) -> DatasetSpec:
    """Check a spec's form and its folder layout (cheap file-system checks; nothing is decoded)."""
    if not isinstance(spec, str) or not spec.strip():
        raise BadInputError(f"dataset spec must be a non-empty string; allowed: {_allowed()}")
    kind, sep, raw_path = spec.strip().partition(":")
    if kind not in _KINDS:
        close = difflib.get_close_matches(kind, _KINDS, n=1, cutoff=0.3)
        hint = f"; did you mean {_form(close[0])!r}?" if close else ""
        raise BadInputError(f"unknown dataset {spec!r}; allowed: {_allowed()}{hint}")
    if kind == "digits":
        if sep:
            raise BadInputError(f"dataset 'digits' is embedded and takes no path; got {spec!r}")
        return DatasetSpec("digits")
    if not raw_path:
        raise BadInputError(f"dataset {kind!r} needs a path: {_form(kind)} ({_expected(kind)})")
    path = Path(raw_path).expanduser()
    if not path.is_dir():
        raise BadInputError(f"{kind} folder {str(path)!r} does not exist; {_expected(kind)}")
    if kind == "cifar10":
        path = _cifar_batches_dir(path)
    return DatasetSpec(kind, path)


def load_dataset(spec: str, resolution: int, *, val_fraction: float = 0.2,
                 test_fraction: float = 0.2) -> Dataset:
    """Load `spec` at `resolution`×`resolution`, cached per (spec, resolution, fractions).

    `test_fraction`: the share of all images held out as the test split (digits and
    imagefolder; cifar10 has its official test set); `val_fraction`: the validation share of
    the images left.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise BadInputError(f"resolution must be an int >= 1; got {resolution!r}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < float(value) < 1.0:
            raise BadInputError(f"{name} must be in (0, 1); got {value!r}")
    parsed = parse_dataset_spec(spec)
    return _load_cached(parsed, resolution, float(val_fraction), float(test_fraction))


def check_dataset(spec: str) -> DatasetSpec:
    """Read every file of `spec` once and refuse, in one line, one that cannot be used, so that
    a search fails before its run directory exists rather than at its first candidate.

    CIFAR-10's batches are unpickled (restricted: no code runs) and their shapes checked;
    an image folder's files are opened far enough to know they are images. Nothing is kept:
    `load_dataset` decodes at the resolution the estimator asks for. Checked once per folder
    version (names, sizes, mtimes), so a second search in the process pays nothing."""
    parsed = parse_dataset_spec(spec)
    if parsed.kind != "digits":
        _check_files_cached(parsed, _folder_version(parsed.path))
    return parsed


def dataset_classes(spec: str) -> tuple[str, ...]:
    """Class names of `spec` without decoding any image (to size a net's head cheaply)."""
    parsed = parse_dataset_spec(spec)
    if parsed.kind == "digits":
        return tuple(str(i) for i in range(10))
    if parsed.kind == "cifar10":
        return tuple(_cifar_names(parsed.path))
    # the same rule as torchvision's ImageFolder: every sub-folder is a class, sorted by name
    return tuple(sorted(p.name for p in parsed.path.iterdir() if p.is_dir()))


def stratified_split(labels, n_first: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices (first, rest), sorted; `first` has exactly `n_first` items in class proportions.

    Per-class quotas use largest remainders so the total is exact even for tiny classes.
    """
    y = np.asarray(labels)
    classes, counts = np.unique(y, return_counts=True)
    share = counts * (n_first / len(y))
    quota = np.floor(share).astype(int)
    order = np.argsort(-(share - quota), kind="stable")
    quota[order[: n_first - int(quota.sum())]] += 1
    rng = np.random.default_rng(seed)
    first = [rng.permutation(np.flatnonzero(y == c))[:q]
             for c, q in zip(classes, quota, strict=True)]
    chosen = np.sort(np.concatenate(first)) if first else np.zeros(0, dtype=int)
    rest = np.setdiff1d(np.arange(len(y)), chosen)
    return chosen, rest


@functools.lru_cache(maxsize=8)
def _load_cached(parsed: DatasetSpec, resolution: int, val_fraction: float,
                 test_fraction: float) -> Dataset:
    if parsed.kind == "cifar10":
        (x, y), (te_x, te_y), names = _read_cifar(parsed.path, resolution)
    else:
        x, y, names = _read_digits(resolution) if parsed.kind == "digits" \
            else _read_imagefolder(parsed.path, resolution)
        test_idx, rest = _split(parsed.kind, y, test_fraction, "test")
        te_x, te_y, x, y = x[test_idx], y[test_idx], x[rest], y[rest]
    val_idx, train_idx = _split(parsed.kind, y, val_fraction, "validation")
    tr_x, tr_y, va_x, va_y = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    mean, std = _normalise(tr_x, va_x, te_x)
    return Dataset(parsed.kind, tr_x, tr_y, va_x, va_y, te_x, te_y, len(names), tuple(names),
                   mean, std)


def _split(kind: str, y, fraction: float, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices (held out, rest) of `y`, the held-out share `fraction`, stratified."""
    n_out = int(round(len(y) * fraction))
    if len(y) < 2 or not 0 < n_out < len(y):
        raise BadInputError(f"{kind} dataset has too few images ({len(y)} left) for a "
                            f"{what} split of {fraction:g}; add images (train, validation and "
                            "test splits each need some)")
    return stratified_split(y.numpy(), n_out)


@functools.lru_cache(maxsize=8)
def _check_files_cached(parsed: DatasetSpec, version: tuple) -> None:
    if parsed.kind == "cifar10":
        for name in (*CIFAR_TRAIN, CIFAR_TEST):
            _read_batch(parsed.path / name)
        _cifar_names(parsed.path)
    else:
        _check_imagefolder(parsed.path)


def _folder_version(folder: Path) -> tuple:
    """What changes when a dataset's files do: each entry's name, size and mtime."""
    try:
        return tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                            for p in folder.rglob("*") if p.is_file()))
    except OSError as exc:
        raise BadInputError(f"dataset folder {folder} cannot be read ({exc})") from None


def _check_imagefolder(root: Path) -> None:
    """Each class folder holds images PIL can identify (headers only: nothing is decoded)."""
    from PIL import Image

    classes = sorted(p for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise BadInputError(f"imagefolder:{root} has {len(classes)} class folder(s); need >= 2 "
                            "(PATH/<class>/<image>.png)")
    for folder in classes:
        files = sorted(p for p in folder.rglob("*") if p.is_file()
                       and p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise BadInputError(f"imagefolder:{root}: class folder {folder.name!r} holds no "
                                f"image ({', '.join(_IMAGE_SUFFIXES)})")
        for path in files:
            try:
                with Image.open(path) as image:
                    image.size  # noqa: B018 - the header is read by open; size proves it
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                raise BadInputError(f"imagefolder:{root}: {path} is not a readable image "
                                    f"({_one_line(str(exc), 120)})") from None


def _normalise(train_x: torch.Tensor, *others: torch.Tensor) -> tuple[tuple, tuple]:
    """Normalise every split in place with the training split's per-channel statistics;
    returns them (mean, std) as plain floats."""
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)  # constant channels stay finite
    for x in (train_x, *others):
        x.sub_(mean).div_(std)
    return (tuple(float(v) for v in mean.flatten()), tuple(float(v) for v in std.flatten()))


def _resize(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Bilinear resize in chunks (bounded peak memory); antialiased when shrinking."""
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    import torch
    import torch.nn.functional as F

    shrink = resolution < x.shape[-1]
    return torch.cat([F.interpolate(c, size=(resolution, resolution), mode="bilinear",
                                    align_corners=False, antialias=shrink)
                      for c in x.split(4096)])


def _check_memory(kind: str, n: int, resolution: int) -> None:
    need = n * 3 * resolution * resolution * 4
    if need > MAX_BYTES:
        raise BadInputError(f"{kind} at resolution {resolution} needs {need / 2**30:.1f} GiB in "
                            f"memory (limit {MAX_BYTES / 2**30:.0f} GiB); use a lower resolution")


def _read_digits(resolution: int):
    import torch
    from sklearn.datasets import load_digits  # shipped inside scikit-learn: no download

    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)  # values 0..16
    x = _resize(x, resolution).expand(-1, 3, -1, -1).contiguous()
    y = torch.from_numpy(bunch.target.astype(np.int64))
    return x, y, [str(int(t)) for t in bunch.target_names]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only plain numpy arrays, lists, dicts, strings and numbers: no code runs.

    CIFAR-10's python batches are pickles; torchvision unpickles them unrestricted (and checks
    the official md5s), so hwnas reads them itself with this allow-list instead.
    """

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
                *((f"numpy.{core}.{mod}", name) for core in ("core", "_core")
                  for mod, name in (("multiarray", "_reconstruct"), ("numeric", "_frombuffer"))),
                ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        if name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "_codecs":  # how protocol-2 pickles written by Python 3 store bytes
            return _latin1_encode
        sub = "multiarray" if name == "_reconstruct" else "numeric"
        try:  # numpy >= 2 keeps these in numpy._core; numpy.core is its deprecated alias
            mod = importlib.import_module(f"numpy._core.{sub}")
        except ImportError:
            mod = importlib.import_module(f"numpy.core.{sub}")
        return getattr(mod, name)


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing to decode bytes as {encoding!r}")
    return text.encode("latin1")


def _unpickle(path: Path, what: str):
    try:
        with open(path, "rb") as f:
            # latin1: the official batches are Python 2 pickles holding numpy byte buffers
            return _ArrayUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError,
            IndexError, KeyError, OverflowError, RecursionError, MemoryError, ImportError,
            struct.error) as e:
        # A hostile or garbage file fails in any of these ways, inside pickle or numpy.
        reason = _one_line(f"{type(e).__name__}: {e}")
        raise BadInputError(f"{path} is not a CIFAR-10 {what} ({reason})") from None


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    entry = _unpickle(path, "python batch")
    try:
        data = np.asarray(entry["data"])
        labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        data, labels = np.zeros((0, 0), dtype=object), np.zeros(0)
    ok = (data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072
          and labels.shape == (len(data),) and np.all((labels >= 0) & (labels <= 9)))
    if not ok:
        raise BadInputError(f"{path} is not a CIFAR-10 batch: expected a dict with uint8 'data' "
                            f"(N, 3072) and N 'labels' in 0..9")
    return data, labels


def _read_cifar(folder: Path, resolution: int):
    import torch

    parts = [_read_batch(folder / name) for name in CIFAR_TRAIN]
    tr_data = np.concatenate([p[0] for p in parts])
    tr_y = np.concatenate([p[1] for p in parts])
    va_data, va_y = _read_batch(folder / CIFAR_TEST)
    if len(tr_y) == 0 or len(va_y) == 0:
        raise BadInputError(f"CIFAR-10 folder {folder} has an empty train or test set")
    _check_memory("cifar10", len(tr_y) + len(va_y), resolution)

    def to_tensor(data: np.ndarray) -> torch.Tensor:
        u8 = torch.from_numpy(data).view(-1, 3, 32, 32)
        return torch.cat([_resize(c.float().div_(255.0), resolution) for c in u8.split(4096)])

    return ((to_tensor(tr_data), torch.from_numpy(tr_y)),
            (to_tensor(va_data), torch.from_numpy(va_y)), _cifar_names(folder))


def _cifar_names(folder: Path) -> list[str]:
    meta = folder / "batches.meta"
    if not meta.is_file():
        return list(CIFAR_CLASSES)
    entry = _unpickle(meta, "metadata file")
    names = entry.get("label_names") if isinstance(entry, dict) else None
    if not isinstance(names, (list, tuple)) or len(names) != 10:
        raise BadInputError(f"{meta} is not CIFAR-10 metadata: expected 10 'label_names'")
    return [str(n) for n in names]


def _read_imagefolder(root: Path, resolution: int):
    import torch
    from torchvision import datasets, transforms

    # Shorter side to `resolution`, then centre crop: the usual evaluation transform, no distortion.
    tf = transforms.Compose([transforms.Resize(resolution), transforms.CenterCrop(resolution),
                             transforms.ToTensor()])
    try:
        ds = datasets.ImageFolder(str(root), transform=tf)  # its loader converts to RGB
    except (FileNotFoundError, RuntimeError) as e:
        raise BadInputError(f"imagefolder:{root} must hold one sub-folder of images per class "
                            f"(PATH/<class>/<image>.png); {_one_line(str(e), 160)}") from None
    if len(ds.classes) < 2:
        raise BadInputError(f"imagefolder:{root} has {len(ds.classes)} class folder(s); need >= 2")
    _check_memory("imagefolder", len(ds), resolution)
    x = torch.stack([_decode(ds, i) for i in range(len(ds))])
    return x, torch.tensor(ds.targets, dtype=torch.int64), list(ds.classes)


def _decode(ds, index: int):
    try:
        return ds[index][0]
    except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
        raise BadInputError(f"{ds.samples[index][0]} is not a readable image "
                            f"({_one_line(str(exc), 120)})") from None


def _cifar_batches_dir(path: Path) -> Path:
    """Accept PATH holding cifar-10-batches-py, or that folder itself."""
    folder = path if path.name == CIFAR_FOLDER else path / CIFAR_FOLDER
    missing = [n for n in (*CIFAR_TRAIN, CIFAR_TEST) if not (folder / n).is_file()]
    if not folder.is_dir() or missing:
        what = f"missing {', '.join(missing)} in {folder}" if folder.is_dir() else f"no {folder}"
        raise BadInputError(f"cifar10:PATH must point at the folder holding {CIFAR_FOLDER} "
                            f"(the extracted cifar-10-python.tar.gz); {what}")
    return folder


def _form(kind: str) -> str:
    return kind if kind == "digits" else f"{kind}:PATH"


def _allowed() -> str:
    return ", ".join(ALLOWED_FORMS)


def _expected(kind: str) -> str:
    if kind == "cifar10":
        return f"PATH is the folder holding {CIFAR_FOLDER}"
    return "PATH is a folder with one sub-folder of images per class"


def _one_line(text: str, limit: int = 300) -> str:
    """Messages become one line, shortened: torchvision may list every folder it looked at."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
