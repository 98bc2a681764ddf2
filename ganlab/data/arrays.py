"""Checks and conversions shared by every dataset: the step from raw arrays to a :class:`Dataset`.

Sources hand over arrays in the tutorial's (Keras) layout: a dict with ``x_train``, ``y_train``,
``x_test``, ``y_test``; uint8 images shaped (N, H, W) for grayscale or (N, H, W, C) for colour.
:func:`make_dataset` checks them and turns them into ganlab's layout: (N, C, H, W) images, int64 labels.
"""
from __future__ import annotations

import hashlib
import sys

import numpy as np

from ganlab.data import Dataset, DatasetSpec
from ganlab.errors import DataError

SPLITS = ("x_train", "y_train", "x_test", "y_test")
MAX_CLASSES = 10_000  # more than this means the "labels" are not class indices


def sha256_of(array: np.ndarray) -> str:
    """The sha256 of an array's raw bytes in C order (how the datasets' checksums are defined)."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def verify(arrays: dict[str, np.ndarray], expected: dict[str, str], source: str) -> None:
    """Raise :class:`DataError` unless every array in ``expected`` has the expected sha256."""
    bad = [key for key, digest in expected.items() if sha256_of(arrays[key]) != digest]
    if bad:
        raise DataError(f"Checksum mismatch in {source}: {', '.join(bad)} differ from the published "
                        "dataset, so the data is corrupt or not the dataset it claims to be. Nothing "
                        "was cached; delete the file if it is yours and download it again.")


def check_pair(x: np.ndarray, y: np.ndarray, source: str, split: str = "train") -> None:
    """Check one split: uint8 images (N, H, W) or (N, H, W, C), integer labels (N,) that are >= 0."""
    where = f"{source} ({split} split)"
    if x.dtype != np.uint8:
        raise DataError(f"The images in {where} are {x.dtype}, not uint8 pixels 0-255. Convert them, "
                        "e.g. np.rint(x * 255).astype(np.uint8) for floats in [0, 1].")
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 3)) or 0 in x.shape[1:]:
        raise DataError(f"The images in {where} have shape {x.shape}; expected (N, H, W) for "
                        "grayscale or (N, H, W, C) with C = 1 or 3 for colour.")
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        raise DataError(f"The labels in {where} are a {y.ndim}-d {y.dtype} array; expected one "
                        "integer class index per image, shape (N,).")
    if len(x) != len(y):
        raise DataError(f"{where} has {len(x)} images but {len(y)} labels; the two must match "
                        "one to one.")
    if len(y) and y.min() < 0:
        raise DataError(f"{where} has a negative label ({y.min()}); labels must be 0, 1, 2, ...")


def check_labels(y: np.ndarray, num_classes: int, source: str) -> None:
    """Raise :class:`DataError` when a label is outside 0 .. num_classes - 1."""
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"{source} has labels from {y.min()} to {y.max()}, but the dataset has "
                        f"{num_classes} classes (0-{num_classes - 1}). The labels file does not "
                        "belong to these images, or it is corrupt.")


def to_nchw(x: np.ndarray) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) uint8 -> C-contiguous (N, C, H, W), ganlab's layout."""
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x)


def make_dataset(arrays: dict[str, np.ndarray], name: str, source: str,
                 class_names: tuple[str, ...] | None = None) -> Dataset:
    """Check Keras-layout arrays and build a :class:`Dataset`; the class count comes from the labels
    unless ``class_names`` gives it."""
    check_pair(arrays["x_train"], arrays["y_train"], source, "train")
    check_pair(arrays["x_test"], arrays["y_test"], source, "test")
    x_train, x_test = to_nchw(arrays["x_train"]), to_nchw(arrays["x_test"])
    if len(x_train) == 0:
        raise DataError(f"{source} has no training images.")
    if len(x_test) and x_test.shape[1:] != x_train.shape[1:]:
        raise DataError(f"In {source} the training images are {x_train.shape[1:]} (C, H, W) but the "
                        f"test images are {x_test.shape[1:]}; both splits must have one shape.")
    y_train, y_test = arrays["y_train"].astype(np.int64), arrays["y_test"].astype(np.int64)
    if class_names is None:
        y_train, y_test, class_names = number_the_classes(y_train, y_test, source)
    check_labels(y_train, len(class_names), source)
    check_labels(y_test, len(class_names), source)
    spec = DatasetSpec(name, tuple(int(d) for d in x_train.shape[1:]), len(class_names), class_names)
    return Dataset(spec, x_train, y_train, x_test, y_test)


def number_the_classes(y_train: np.ndarray, y_test: np.ndarray, source: str):
    """Labels as class indices 0 .. K-1, and the class names (the labels as the file wrote them).

    Labels that are already 0 .. K-1 are kept. Others (``{3, 7}``, or 0-9 and a stray 500) are
    renumbered in sorted order, and a table on stderr shows the learner what became what and how many
    images each class has, so a stray label is seen rather than silently trained as its own class
    (or, as before, as 500 empty classes).
    """
    values = np.unique(np.concatenate([y_train, y_test]))
    if len(values) > MAX_CLASSES:
        raise DataError(f"{source} has {len(values)} different labels; labels must be class indices "
                        "(at most 10 000 classes). The labels are corrupt or not class indices.")
    names = tuple(str(int(v)) for v in values)
    if np.array_equal(values, np.arange(len(values))):
        return y_train, y_test, names
    counts = np.bincount(np.searchsorted(values, y_train), minlength=len(values))
    rows = "\n".join(f"  label {int(v):>8} -> class {i:>4}: {n} training images" for i, (v, n) in
                     enumerate(zip(values, counts)))
    print(f"ganlab: the labels in {source} are not 0..{len(values) - 1}; they were renumbered in sorted "
          f"order (class names keep the original labels):\n{rows}", file=sys.stderr)
    return np.searchsorted(values, y_train), np.searchsorted(values, y_test), names


def holdout_split(x: np.ndarray, y: np.ndarray, source: str, fraction: float = 0.1,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """Split one set of images into train and test when a source has no test split.

    A fixed random ``fraction`` (seeded, so every run gets the same split) becomes the test set;
    a line on stderr says so, since it changes what "test" means for this dataset.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * fraction))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    print(f"ganlab: {source} has no test split; holding out {n_test} of {len(x)} images "
          f"({fraction:.0%}, chosen with seed {seed}) as the test set", file=sys.stderr)
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}
