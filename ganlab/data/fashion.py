"""Fashion-MNIST (Zalando Research): 70 000 grayscale 28x28 images of ten kinds of clothing, in IDX files.

Sources, in order (the first whose arrays match :data:`SHA256` is cached as
``<cache>/fashion-mnist.npz``): the IDX files Debian's package ``dataset-fashion-mnist`` installs in
:data:`SYSTEM_DIR` (``apt-get install dataset-fashion-mnist``), then the public mirrors in
:data:`MIRRORS` (or ``$GANLAB_FASHION_MNIST_MIRRORS``, comma-separated).

The checksums are of the decoded arrays, not of the ``.gz`` files: Debian recompresses the files, so
their bytes differ from the publisher's while the images are the same. The decompressed IDX files
match the publisher's published MD5s (train images f4a8712d7a061bf5bd6d2ca38dc4d50a, train labels
9018921c3c673c538a1fc5bad174d6f9, test images 8181f5470baa50b63fa0f6fddb340f0a, test labels
15d484375f8d13e6eb1aabb0c3f46965); the sha256 values below were taken from those arrays.
"""
from __future__ import annotations

import os
from pathlib import Path

from ganlab.data import Dataset
from ganlab.data.arrays import make_dataset
from ganlab.data.cache import cache_path
from ganlab.data.npz import read_npz
from ganlab.data.sources import Arrays, idx_from_folder, load_verified, mirrors, url_sources

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
           "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/")
# sha256 of each array's raw bytes, C order: uint8 images (N, 28, 28), uint8 labels (N,).
SHA256 = {
    "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
    "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
    "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
    "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
}


def load_fashion_mnist(path: str | os.PathLike | None = None) -> Dataset:
    """Fashion-MNIST as a :class:`Dataset`. ``path`` may name a folder holding the four IDX files
    (``train-images-idx3-ubyte[.gz]`` ...) or a Keras-format ``.npz``, used instead of the cache."""
    if path is None:
        arrays, source = acquire(), "Fashion-MNIST"
    elif Path(path).is_dir():
        arrays, source = idx_from_folder(path), str(path)
    else:
        arrays, source = read_npz(path), str(path)
    return make_dataset(arrays, "fashion-mnist", source, CLASS_NAMES)


def acquire() -> Arrays:
    """Fashion-MNIST's verified Keras-layout arrays, from the cache or from the sources (then cached)."""
    sources = [(f"the Debian package files in {SYSTEM_DIR}", lambda: idx_from_folder(SYSTEM_DIR))]
    sources += url_sources(mirrors(MIRRORS, "GANLAB_FASHION_MNIST_MIRRORS"))
    manual = ("To place Fashion-MNIST by hand, install Debian's package (apt-get install "
              f"dataset-fashion-mnist), or download the four files train-images-idx3-ubyte.gz, "
              f"train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz "
              f"from {MIRRORS[1]} into a folder and pass it with --data FOLDER (in Python: "
              f"load_dataset('fashion-mnist', path=FOLDER)); the verified copy is kept as "
              f"{cache_path('fashion-mnist.npz')}.")
    return load_verified("fashion-mnist", SHA256, sources, manual)
