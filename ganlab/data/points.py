"""Point datasets: float32 coordinates of shape (N, D) in [-1, 1], with int64 labels.

The generated 2-D toy data (:mod:`ganlab.data.toy`) and a user's ``.npz`` of points both become a
:class:`~ganlab.data.Dataset` through :func:`make_points_dataset`, which checks them. The file layout
read by ``load_dataset("points", path=...)`` (``--dataset points --data FILE.npz``):

* ``x_train`` (N, D) floats in [-1, 1] (the generator ends in ``tanh``, so it cannot reach further);
* ``y_train`` (N,) integer labels 0, 1, 2, ... (optional);
* ``x_test`` and, when the file has ``y_train``, ``y_test`` (optional; without them a seeded tenth of
  the training points is held out);
* ``centres`` (K, D) and ``sigma`` (a number > 0): the Gaussian modes, for the mode-coverage metrics
  (optional, both or neither).

Without labels, a point's label is the index of its nearest centre, or 0 when there are no centres.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from ganlab.data import Dataset, DatasetSpec, Modes
from ganlab.data.arrays import MAX_CLASSES, check_labels
from ganlab.data.npz import read_arrays
from ganlab.errors import DataError

POINT_ARRAYS = ("x_train", "y_train", "x_test", "y_test", "centres", "sigma")


def load_points(path: str | os.PathLike | None = None, test_fraction: float = 0.1) -> Dataset:
    """The ``points`` dataset: an ``.npz`` of points laid out as this module's docstring says."""
    if path is None:
        raise DataError("The points dataset needs a file: pass --data PATH/TO/POINTS.npz (in Python, "
                        "load_dataset('points', path=...)). It holds x_train (N, D) floats in [-1, 1] "
                        "and, optionally, y_train, x_test, y_test, centres and sigma.")
    source = str(path)
    arrays = read_point_arrays(path)
    modes = None
    if "centres" in arrays or "sigma" in arrays:
        modes = check_modes(arrays.get("centres"), arrays.get("sigma"), source)
    if "x_test" not in arrays:
        check_points(arrays["x_train"], source, "train")
        if "y_train" in arrays:
            check_point_labels(arrays["y_train"], arrays["x_train"], source, "train")
        train, test = holdout_indices(len(arrays["x_train"]), source, test_fraction)
        for key in ("x", "y"):
            if f"{key}_train" in arrays:
                whole = arrays[f"{key}_train"]
                arrays[f"{key}_train"], arrays[f"{key}_test"] = whole[train], whole[test]
    return make_points_dataset("points", source, arrays["x_train"], arrays.get("y_train"),
                               arrays["x_test"], arrays.get("y_test"), modes)


def read_point_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a points ``.npz`` (opened without pickle: unpickling runs code), keys checked."""
    source = str(path)

    def check_names(names: list[str]) -> None:
        if "x_train" not in names:
            raise DataError(
                f"{source} has no x_train array (it has: {', '.join(names) or 'none'}). A points "
                "file holds x_train, an (N, D) float array in [-1, 1]; save one with "
                "np.savez(path, x_train=points) and, optionally, y_train=labels, x_test=..., "
                "y_test=..., centres=..., sigma=...")

    arrays = read_arrays(path, source, POINT_ARRAYS, check_names)
    if "y_test" in arrays and "x_test" not in arrays:
        raise DataError(f"{source} has y_test but no x_test; save the test points with their labels.")
    if ("y_train" in arrays) != ("y_test" in arrays) and "x_test" in arrays:
        have, lack = ("y_train", "y_test") if "y_train" in arrays else ("y_test", "y_train")
        raise DataError(f"{source} has {have} but no {lack}: label both splits or neither (without "
                        "labels, each point is labelled by its nearest centre).")
    return arrays


def make_points_dataset(name: str, source: str, x_train: np.ndarray, y_train: np.ndarray | None,
                        x_test: np.ndarray, y_test: np.ndarray | None,
                        modes: Modes | None = None) -> Dataset:
    """Check point arrays and build a :class:`Dataset` of kind ``"points"``.

    Missing labels come from the modes (nearest centre) or are all 0. The class count is the number
    of modes when there are modes, else the largest label + 1.
    """
    check_points(x_train, source, "train")
    check_points(x_test, source, "test")
    if len(x_train) == 0:
        raise DataError(f"{source} has no training points.")
    dim = x_train.shape[1]
    if len(x_test) and x_test.shape[1] != dim:
        raise DataError(f"In {source} the training points have {dim} coordinates but the test points "
                        f"have {x_test.shape[1]}; both splits must have one dimension.")
    if modes is not None and modes.centres.shape[1] != dim:
        raise DataError(f"In {source} the centres have {modes.centres.shape[1]} coordinates but the "
                        f"points have {dim}; give one centre per mode, shape (K, {dim}).")
    y_train = _labels(y_train, x_train, modes, source, "train")
    y_test = _labels(y_test, x_test, modes, source, "test")
    if modes is not None:
        num_classes = len(modes.centres)
    else:
        top = int(max(y_train.max(), y_test.max(initial=0)))
        if top >= MAX_CLASSES:
            raise DataError(f"{source} has a label {top}; labels must number the modes 0, 1, 2, ... "
                            "The labels are corrupt or not mode indices.")
        num_classes = top + 1
    check_labels(y_train, num_classes, source)
    check_labels(y_test, num_classes, source)
    spec = DatasetSpec(name, (dim,), num_classes, tuple(str(k) for k in range(num_classes)),
                       sample_kind="points")
    return Dataset(spec, np.ascontiguousarray(x_train, dtype=np.float32), y_train,
                   np.ascontiguousarray(x_test, dtype=np.float32), y_test, modes)


def check_points(x: np.ndarray, source: str, split: str = "train") -> None:
    """Raise :class:`DataError` unless ``x`` is an (N, D) float array of finite values in [-1, 1]."""
    where = f"{source} ({split} split)"
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"The points in {where} are {x.dtype}; points are float coordinates in "
                        "[-1, 1]. Convert them, e.g. x.astype(np.float32) / np.abs(x).max().")
    if x.ndim != 2 or x.shape[1] == 0:
        raise DataError(f"The points in {where} have shape {x.shape}; expected (N, D), one row of D "
                        "coordinates per point (D = 2 for the 2-D views).")
    if not np.isfinite(x).all():
        raise DataError(f"{where} has NaN or infinite coordinates; remove those points.")
    if len(x) and np.abs(x).max() > 1:
        raise DataError(f"{where} has coordinates up to {np.abs(x).max():.3g} in size, outside "
                        "[-1, 1], where a generator ending in tanh cannot reach. Scale the points "
                        "(and centres and sigma) by one factor, e.g. 0.9 / np.abs(x).max().")


def check_modes(centres: np.ndarray | None, sigma: np.ndarray | None, source: str) -> Modes:
    """Check a file's ``centres`` (K, D) and ``sigma`` (a number > 0) and return them as :class:`Modes`."""
    if centres is None or sigma is None:
        raise DataError(f"{source} has {'centres' if sigma is None else 'sigma'} without "
                        f"{'sigma' if sigma is None else 'centres'}; the mode metrics need both: "
                        "centres (K, D) and sigma, the modes' common standard deviation.")
    if not np.issubdtype(centres.dtype, np.number) or centres.ndim != 2 or len(centres) == 0 \
            or not np.isfinite(centres).all():
        raise DataError(f"The centres in {source} are a {centres.dtype} array of shape "
                        f"{centres.shape}; expected finite numbers of shape (K, D), one row per mode.")
    if sigma.size != 1 or not np.issubdtype(sigma.dtype, np.number) or not (float(sigma) > 0) \
            or not np.isfinite(sigma).all():
        raise DataError(f"sigma in {source} is {sigma!r}; expected one number > 0, the standard "
                        "deviation of every mode.")
    return Modes(centres.astype(np.float32), float(sigma))


def nearest_centre(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The index of each point's nearest centre, int64 (N,)."""
    squared = ((x[:, None, :].astype(np.float64) - centres[None, :, :]) ** 2).sum(axis=2)
    return squared.argmin(axis=1).astype(np.int64)


def holdout_indices(n: int, source: str, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices when a file has no test split: a seeded random ``fraction`` is held out
    (the rule of :func:`ganlab.data.arrays.holdout_split`), and a line on stderr says so."""
    if not 0 <= fraction < 1:
        raise DataError(f"test_fraction is {fraction}; it must be at least 0 and below 1, e.g. 0.1.")
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * fraction))
    print(f"ganlab: {source} has no test split; holding out {n_test} of {n} points "
          f"({fraction:.0%}, chosen with seed {seed}) as the test set", file=sys.stderr)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _labels(y: np.ndarray | None, x: np.ndarray, modes: Modes | None, source: str, split: str) -> np.ndarray:
    """The given labels, checked; else each point's nearest mode; else all 0."""
    if y is None:
        if modes is None:
            return np.zeros(len(x), dtype=np.int64)
        return nearest_centre(x, modes.centres)
    check_point_labels(y, x, source, split)
    return y.astype(np.int64)


def check_point_labels(y: np.ndarray, x: np.ndarray, source: str, split: str) -> None:
    """Raise :class:`DataError` unless ``y`` holds one integer label >= 0 for each point of ``x``."""
    where = f"{source} ({split} split)"
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        raise DataError(f"The labels in {where} are a {y.ndim}-d {y.dtype} array; expected one "
                        "integer mode index per point, shape (N,).")
    if len(y) != len(x):
        raise DataError(f"{where} has {len(x)} points but {len(y)} labels; the two must match one to one.")
    if len(y) and y.min() < 0:
        raise DataError(f"{where} has a negative label ({y.min()}); labels must be 0, 1, 2, ...")

