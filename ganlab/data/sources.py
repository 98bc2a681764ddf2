"""Get a published dataset once, verify it, and keep it in the cache: the part MNIST and Fashion-MNIST share.

A dataset with known checksums is looked up in the cache first (``<cache>/<name>.npz``, in the
tutorial's Keras layout, checked again on every load). When it is absent or damaged, each source is
tried in turn; the first whose arrays match the checksums is saved to the cache atomically. A source
that fails or does not match is reported on stderr and the next is tried, so nothing unverified is
ever cached.
"""
from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from ganlab.data.arrays import SPLITS, verify
from ganlab.data.cache import cache_path, write_to_cache
from ganlab.data.download import fetch
from ganlab.data.idx import parse_idx, read_idx
from ganlab.data.npz import read_npz
from ganlab.errors import DataError

Arrays = dict[str, np.ndarray]
Source = tuple[str, Callable[[], Arrays]]  # (what it is, for messages; how to get the arrays)

# The file names MNIST and Fashion-MNIST use for their IDX files, by Keras array name.
IDX_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def load_verified(name: str, expected: dict[str, str], sources: Sequence[Source],
                  manual_help: str) -> Arrays:
    """The Keras-layout arrays of dataset ``name``, from the cache or from the first good source.

    :param expected: sha256 of each array's raw bytes (see :func:`ganlab.data.arrays.sha256_of`).
    :param manual_help: appended to the error when every source failed: how to place the file by hand.
    """
    path = cache_path(f"{name}.npz")
    if path.exists():
        try:
            arrays = read_npz(path)
            verify(arrays, expected, str(path))
            return arrays
        except DataError as e:
            print(f"ganlab: ignoring the damaged cache file ({e}); getting {name} again",
                  file=sys.stderr)
    failures = []
    for what, get in sources:
        try:
            arrays = get()
            verify(arrays, expected, what)
        except DataError as e:
            failures.append(str(e) if what in str(e) else f"{what}: {e}")
            print(f"ganlab: {failures[-1]}", file=sys.stderr)
            continue
        splits = {k: arrays[k] for k in SPLITS}
        write_to_cache(path, lambda handle, splits=splits: np.savez(handle, **splits))
        print(f"ganlab: {name} ({what}) verified and saved to {path}", file=sys.stderr)
        return arrays
    tried = " ".join(f"({i}) {f}" for i, f in enumerate(failures, 1)) or "no source is configured."
    raise DataError(f"Could not get {name}. Tried: {tried} {manual_help}")


def mirrors(default: Sequence[str], env_var: str) -> tuple[str, ...]:
    """The mirror URLs to try: ``default``, or the comma- or space-separated list in ``env_var``."""
    value = os.environ.get(env_var)
    return tuple(value.replace(",", " ").split()) if value is not None else tuple(default)


def url_sources(urls: Sequence[str]) -> list[Source]:
    """Sources for mirror URLs: one ending in ``.npz`` is a Keras-format file; any other is a folder
    holding the four gzip-compressed IDX files."""
    return [(url, partial(npz_from_url if url.endswith(".npz") else idx_from_url, url))
            for url in urls]


def npz_from_url(url: str) -> Arrays:
    return read_npz(io.BytesIO(fetch(url)), source=url)


def idx_from_url(base: str) -> Arrays:
    base = base if base.endswith("/") else base + "/"
    return {key: parse_idx(fetch(f"{base}{file}.gz"), f"{base}{file}.gz")
            for key, file in IDX_FILES.items()}


def idx_from_folder(folder: str | os.PathLike) -> Arrays:
    """Read the four IDX files (``name`` or ``name.gz``) from a local folder."""
    arrays = {}
    for key, name in IDX_FILES.items():
        found = [p for p in (Path(folder) / name, Path(folder) / f"{name}.gz") if p.is_file()]
        if not found:
            raise DataError(f"{folder} has no {name} or {name}.gz; the folder must hold the four "
                            f"IDX files {', '.join(IDX_FILES.values())} (each may be .gz).")
        arrays[key] = read_idx(found[0])
    return arrays
