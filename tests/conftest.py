"""Shared fixtures. Real MNIST comes from the ganlab cache (acquired once, like a user's first run)."""
from __future__ import annotations

import importlib.util
import os
import struct
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from hypothesis import settings

from ganlab.data import Dataset, DatasetSpec, load_dataset
from ganlab.data.idx import IDX_TYPES

# One hypothesis profile for the whole suite, CI included: the same examples are drawn on every run
# (derandomize), so whether the suite passes never depends on the draw; each property test pins the
# edge values it must always try with @example. HYPOTHESIS_PROFILE=explore draws fresh examples.
settings.register_profile("ganlab", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ganlab"))


@pytest.fixture(scope="session", autouse=True)
def decoded_folders(tmp_path_factory):
    """Decoded ``folder`` datasets are cached in a temporary folder, not in the user's ganlab cache."""
    folder = tmp_path_factory.mktemp("decoded-folders")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("ganlab.data.folder.decoded_cache_dir", lambda: folder)
        yield folder


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` are skipped on a machine without a CUDA GPU."""
    if torch.cuda.is_available():
        return
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


@pytest.fixture(scope="session")
def mnist() -> Dataset:
    """The real MNIST, from the cache (downloaded and verified on first use)."""
    return load_dataset("mnist")


@pytest.fixture(scope="session")
def small_mnist_npz(mnist, tmp_path_factory) -> str:
    """A Keras-format mnist.npz holding the first 2 000 real training and 500 test images.

    CLI tests pass it with ``--data``: the same loading path as a user's file, read in milliseconds.
    """
    path = tmp_path_factory.mktemp("data") / "mnist-small.npz"
    np.savez(path, x_train=mnist.x_train[:2000, 0], y_train=mnist.y_train[:2000].astype(np.uint8),
             x_test=mnist.x_test[:500, 0], y_test=mnist.y_test[:500].astype(np.uint8))
    return str(path)


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of ``array`` (the inverse of ganlab's IDX reader), to write test fixtures."""
    codes = {np.dtype(t).newbyteorder(">"): code for code, t in IDX_TYPES.items()}
    array = np.asarray(array)
    big = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if big not in codes or array.ndim == 0:
        raise ValueError(f"IDX cannot hold a {array.ndim}-d array of {array.dtype}")
    header = bytes([0, 0, codes[big], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=big).tobytes()


def random_dataset(shape=(1, 28, 28), num_classes=10, n=256, seed=0) -> Dataset:
    """Random pixels: for tests about shapes and plumbing, where what is learned does not matter."""
    rng = np.random.default_rng(seed)
    spec = DatasetSpec("random", tuple(shape), num_classes, tuple(f"class{i}" for i in range(num_classes)))
    return Dataset(spec, rng.integers(0, 256, (n, *shape), dtype=np.uint8),
                   rng.integers(0, num_classes, n).astype(np.int64),
                   rng.integers(0, 256, (n // 4, *shape), dtype=np.uint8),
                   rng.integers(0, num_classes, n // 4).astype(np.int64))


SCRIPTS = Path(__file__).parents[1] / "scripts"


def load_script(name: str) -> ModuleType:
    """A script of ``scripts/`` (not a package) imported as a module, so tests can call its functions."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
