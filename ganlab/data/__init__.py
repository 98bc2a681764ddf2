"""Datasets: what the trainer and the plugins may rely on.

A dataset is held as uint8 images of shape (N, C, H, W) and int64 labels of shape (N,), split into
train and test. The trainer scales images to [-1, 1] on the device with :func:`to_unit_range`, the
tutorial's ``(x - 127.5) / 127.5``. The image shape and the class count travel to the plugins in a
:class:`DatasetSpec`; nothing in ganlab assumes 28x28 or 10 classes.

:func:`load_dataset` is the one way in (``mnist``, ``fashion-mnist``, ``idx``, ``folder``, ``npz``);
:func:`download_dataset` fills the cache; :mod:`ganlab.data.explore` describes and plots a dataset.
"""
from __future__ import annotations

import importlib
import inspect
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganlab.data.cache import cache_path
from ganlab.errors import DataError


@dataclass(frozen=True)
class DatasetSpec:
    """What a plugin needs to know about the data to build its networks."""

    name: str
    image_shape: tuple[int, int, int]  # (channels, height, width)
    num_classes: int
    class_names: tuple[str, ...]


@dataclass
class Dataset:
    """A whole dataset in memory: uint8 images (N, C, H, W) and int64 labels (N,)."""

    spec: DatasetSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels 0..255 -> float32 in [-1, 1], as the tutorial scales them."""
    return (images.float() - 127.5) / 127.5


def from_unit_range(images: torch.Tensor) -> torch.Tensor:
    """float images in [-1, 1] -> uint8 pixels 0..255 (the inverse of :func:`to_unit_range`)."""
    return (images.clamp(-1, 1) * 127.5 + 127.5).round().to(torch.uint8)


# Each dataset's loader, as "module:function" inside ganlab.data, imported only when asked for.
# A loader takes ``path`` (or None) and its own keyword options, and returns a Dataset.
_LOADERS = {
    "mnist": "mnist:load_mnist",
    "fashion-mnist": "fashion:load_fashion_mnist",
    "idx": "idx:load_idx",
    "folder": "folder:load_folder",
    "npz": "npz:load_npz",
}


# The datasets ganlab can fetch by itself, as "module:function" returning verified arrays it caches.
_DOWNLOADERS = {"mnist": "mnist:acquire", "fashion-mnist": "fashion:acquire"}


def dataset_names() -> tuple[str, ...]:
    """The names :func:`load_dataset` knows."""
    return tuple(_LOADERS)


def load_dataset(name: str = "mnist", path: str | os.PathLike | None = None, **options) -> Dataset:
    """Load a dataset by name: uint8 images (N, C, H, W), int64 labels, a train/test split.

    :param name: ``mnist``, ``fashion-mnist`` (acquired, verified and cached by themselves when
        ``path`` is None), ``idx``, ``folder`` or ``npz`` (read from ``path``).
    :param path: the file or folder to read (``--data``): for ``mnist`` a Keras-format ``mnist.npz``
        used instead of the cache; for ``fashion-mnist`` a folder of its IDX files or an ``.npz``;
        for ``idx`` the images file; for ``folder`` the folder of class sub-folders; for ``npz`` the file.
    :param options: dataset-specific settings: ``labels`` (idx: the labels file), ``image_size``
        (folder: 28, 32 or 64), ``test_fraction`` (idx, folder, npz without a test split: the share
        of images held out, default 0.1).
    :raises ganlab.errors.DataError: unknown name or option, or data that cannot be found or read.
    """
    if name not in _LOADERS:
        raise DataError(f"Unknown dataset {name!r}. Known datasets: {', '.join(_LOADERS)}.")
    loader = _resolve(_LOADERS[name])
    try:
        inspect.signature(loader).bind(path, **options)
    except TypeError:
        allowed = [p for p in inspect.signature(loader).parameters if p != "path"]
        raise DataError(f"The {name} dataset does not take the option(s) {', '.join(options)}; "
                        f"it takes: {', '.join(allowed) or 'none'}.") from None
    return loader(path, **options)


def download_dataset(name: str) -> Path:
    """Fetch and verify a published dataset into the cache (if not there yet); return the cached file.

    :raises ganlab.errors.DataError: for a dataset read from your own files, or when no source works.
    """
    if name not in _DOWNLOADERS:
        raise DataError(f"{name!r} cannot be downloaded: ganlab fetches {', '.join(_DOWNLOADERS)}. "
                        "The other datasets (idx, folder, npz) are read from your own files, e.g. "
                        "`ganlab data info npz --data my.npz` or `ganlab run --dataset npz --data my.npz`.")
    _resolve(_DOWNLOADERS[name])()
    return cache_path(f"{name}.npz")


def _resolve(reference: str):
    """Resolve "module:function" inside ganlab.data, importing the module only now (so that
    ``import ganlab.data`` stays light)."""
    module, function = reference.split(":")
    return getattr(importlib.import_module(f"ganlab.data.{module}"), function)
