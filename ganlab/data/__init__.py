"""Datasets: what the trainer and the plugins may rely on.

A dataset holds samples of one of two kinds, with int64 labels of shape (N,), split into train and test:

* **images** (``spec.sample_kind == "image"``): uint8 pixels of shape (N, C, H, W). The trainer scales
  them to [-1, 1] on the device with :func:`to_unit_range`, the tutorial's ``(x - 127.5) / 127.5``.
* **points** (``spec.sample_kind == "points"``): float32 coordinates of shape (N, D), already in
  [-1, 1] (the 2-D toy data of :mod:`ganlab.data.toy`, or an ``.npz`` of points). :func:`to_unit_range`
  passes them through unchanged, so the same line of the trainer serves both kinds.

The sample shape and the class count travel to the plugins in a :class:`DatasetSpec`; nothing in ganlab
assumes 28x28 or 10 classes. Datasets made of Gaussian modes also carry their :class:`Modes` (centres
and sigma), which the mode-coverage metrics of :mod:`ganlab.mode_metrics` need.

:func:`load_dataset` is the one way in (``mnist``, ``fashion-mnist``, ``idx``, ``folder``, ``npz``;
``ring``, ``grid``, ``spiral``, ``moons``, ``points``); :func:`download_dataset` fills the cache;
:mod:`ganlab.data.explore` describes and plots a dataset.
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

SAMPLE_KINDS = ("image", "points")


@dataclass(frozen=True)
class DatasetSpec:
    """What a plugin needs to know about the data to build its networks.

    ``image_shape`` is the shape of one sample, whatever its kind: (C, H, W) for images, (D,) for
    points. (It keeps its first name because saved runs and plugins use it; :attr:`sample_shape` is
    the same tuple under the name that fits both kinds.) ``sample_kind`` says how to read it.
    """

    name: str
    image_shape: tuple[int, ...]  # one sample's shape: (channels, height, width), or (D,) for points
    num_classes: int
    class_names: tuple[str, ...]
    sample_kind: str = "image"  # "image": uint8 pixels (N, C, H, W); "points": float32 (N, D) in [-1, 1]

    def __post_init__(self):
        if self.sample_kind not in SAMPLE_KINDS:
            raise ValueError(f"sample_kind must be one of {SAMPLE_KINDS}, not {self.sample_kind!r}")

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: (C, H, W) for images, (D,) for points."""
        return tuple(self.image_shape)

    @property
    def is_points(self) -> bool:
        """True for point data (the 2-D toy datasets), False for images."""
        return self.sample_kind == "points"


@dataclass(frozen=True)
class Modes:
    """The modes of a dataset made of Gaussian blobs: their centres (K, D) and their common sigma.

    Mode k is the isotropic Gaussian N(centres[k], sigma² I); the label of a sample is the index of
    the mode it was drawn from. The mode-coverage metrics count a sample within 3 sigma of a centre.
    """

    centres: np.ndarray  # (K, D) float32, in the data's coordinates (inside [-1, 1])
    sigma: float


@dataclass
class Dataset:
    """A whole dataset in memory: samples (uint8 images (N, C, H, W) or float32 points (N, D)) and
    int64 labels (N,); ``modes`` for data made of Gaussian modes (None otherwise)."""

    spec: DatasetSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    modes: Modes | None = None


def to_unit_range(samples: torch.Tensor) -> torch.Tensor:
    """Samples as the networks see them, float32 in [-1, 1].

    uint8 pixels 0..255 are scaled as the tutorial scales them, ``(x - 127.5) / 127.5``; floating-point
    samples (points) are stored in [-1, 1] already and come back unchanged, as float32.
    """
    if samples.is_floating_point():
        return samples.float()
    return (samples.float() - 127.5) / 127.5


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
    # 2-D points: Gaussian modes generated from a seed, or an .npz of points (float32, in [-1, 1])
    "ring": "toy:load_ring",
    "grid": "toy:load_grid",
    "spiral": "toy:load_spiral",
    "moons": "toy:load_moons",
    "points": "points:load_points",
}


# The datasets ganlab can fetch by itself, as "module:function" returning verified arrays it caches.
_DOWNLOADERS = {"mnist": "mnist:acquire", "fashion-mnist": "fashion:acquire"}


def dataset_names() -> tuple[str, ...]:
    """The names :func:`load_dataset` knows."""
    return tuple(_LOADERS)


def load_dataset(name: str = "mnist", path: str | os.PathLike | None = None, **options) -> Dataset:
    """Load a dataset by name: samples (uint8 images (N, C, H, W) or float32 points (N, D)), int64
    labels, a train/test split.

    :param name: ``mnist``, ``fashion-mnist`` (acquired, verified and cached by themselves when
        ``path`` is None), ``idx``, ``folder`` or ``npz`` (read from ``path``); the 2-D point datasets
        ``ring``, ``grid``, ``spiral``, ``moons`` (generated from a seed), ``points`` (read from ``path``).
    :param path: the file or folder to read (``--data``): for ``mnist`` a Keras-format ``mnist.npz``
        used instead of the cache; for ``fashion-mnist`` a folder of its IDX files or an ``.npz``;
        for ``idx`` the images file; for ``folder`` the folder of class sub-folders; for ``npz`` and
        ``points`` the file.
    :param options: dataset-specific settings: ``labels`` (idx: the labels file), ``image_size``
        (folder: 28, 32 or 64), ``test_fraction`` (idx, folder, npz and points without a test split:
        the share held out, default 0.1), ``seed``, ``n_train``, ``n_test`` (generated point datasets).
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
                        "The other datasets (idx, folder, npz) are read from your own files given "
                        "with --data.")
    _resolve(_DOWNLOADERS[name])()
    return cache_path(f"{name}.npz")


def _resolve(reference: str):
    """Resolve "module:function" inside ganlab.data, importing the module only now (so that
    ``import ganlab.data`` stays light)."""
    module, function = reference.split(":")
    return getattr(importlib.import_module(f"ganlab.data.{module}"), function)
