"""Keras-format ``.npz`` files: ``x_train``, ``y_train`` and, optionally, ``x_test``, ``y_test``.

This is the layout of the tutorial's ``mnist.npz`` and of ganlab's cache. Files are opened with
``allow_pickle=False``: an ``.npz`` can hold pickled objects, and unpickling runs code.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from ganlab.data import Dataset
from ganlab.data.arrays import SPLITS, check_pair, holdout_split, make_dataset
from ganlab.errors import DataError


def read_npz(path: str | os.PathLike | BinaryIO, require_test: bool = True,
             source: str | None = None) -> dict[str, np.ndarray]:
    """Read the arrays of a Keras-format npz and check them (keys, dtypes, shapes, lengths).

    :param path: a file name, or an open binary file (then ``source`` names it in messages).
    :returns: a dict with the keys present among ``x_train, y_train, x_test, y_test``, plus
        ``class_names`` when the file has that array of strings.
    :raises DataError: naming the file and the fix, for a missing, corrupt or wrong-shaped file.
    """
    source = source or str(path)
    wanted = SPLITS if require_test else SPLITS[:2]

    def check_names(names: list[str]) -> None:
        missing = [k for k in wanted if k not in names]
        if missing:
            raise DataError(
                f"{source} lacks the arrays {', '.join(missing)} (it has: "
                f"{', '.join(names) or 'none'}). A Keras-format dataset file holds uint8 "
                "images x_train, x_test and integer labels y_train, y_test; save one with "
                "np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...).")

    arrays = read_arrays(path, source, (*SPLITS, "class_names"), check_names)
    for split in ("train", "test"):
        if f"x_{split}" in arrays and f"y_{split}" not in arrays:
            raise DataError(f"{source} has x_{split} but no y_{split}; save the labels with the images.")
        if f"x_{split}" in arrays:
            check_pair(arrays[f"x_{split}"], arrays[f"y_{split}"], source, split)
    return arrays


def load_npz(path: str | os.PathLike | None = None, test_fraction: float = 0.1) -> Dataset:
    """The ``npz`` dataset: any Keras-format file. Without ``x_test`` a seeded ``test_fraction`` of
    the training images is held out as the test set. Class names come from a ``class_names`` array
    when the file has one, else they are the label numbers."""
    if path is None:
        raise DataError("The npz dataset needs a file: pass --data PATH/TO/FILE.npz (in Python, "
                        "load_dataset('npz', path=...)).")
    arrays = read_npz(path, require_test=False)
    names = arrays.pop("class_names", None)
    if "x_test" not in arrays:
        arrays = holdout_split(arrays["x_train"], arrays["y_train"], str(path), test_fraction)
    if names is not None:
        names = tuple(str(n) for n in np.asarray(names).ravel())
    return make_dataset(arrays, "npz", str(path), names)


def read_arrays(path: str | os.PathLike | BinaryIO, source: str, keys: tuple[str, ...],
                check_names: Callable[[list[str]], None]) -> dict[str, np.ndarray]:
    """The arrays among ``keys`` that an ``.npz`` holds, opened without pickle (unpickling runs code).

    ``check_names`` sees the file's array names first and raises a :class:`DataError` for a file that
    lacks what its reader needs. A missing, truncated or corrupt file, or a plain ``.npy``, is a
    DataError too. Shared by the image (:func:`read_npz`) and the point files (``ganlab.data.points``).
    """
    try:
        f = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{source} does not exist. Check the path given with --data.") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise _unreadable(source, f"{type(e).__name__}: {e}") from e
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise _unreadable(source, "it holds a single array, not named arrays")
    with f:
        check_names(list(f.files))
        try:
            return {k: f[k] for k in keys if k in f.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise _unreadable(source, f"{type(e).__name__}: {e}") from e


def _unreadable(source: str, why: str) -> DataError:
    return DataError(f"{source} is not a readable .npz file ({why}). It is truncated, corrupt or of "
                     "another format; download or save it again.")
