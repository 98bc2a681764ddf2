"""Look at a dataset before training on it, as the tutorial's section 2 does.

* :func:`describe` (2.2): shapes and dtypes, value range, labels present, images per label;
* :func:`save_examples_grid` (2.3): 50 random training images in a 5x10 grid, titled with their labels
  (for point data, a scatter of the points coloured by label);
* :func:`save_label_histogram` (2.4): images per label for train and test, and the imbalance ratio.

Figures are drawn on a :class:`matplotlib.figure.Figure` directly (no pyplot: no global state and no
GUI backend needed) and written atomically.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ganlab.data import Dataset
from ganlab.errors import DataError
from ganlab.files import atomic_write_bytes


def label_counts(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Images per label, for labels 0 .. num_classes - 1."""
    return np.bincount(y, minlength=num_classes)[:num_classes]


def imbalance_ratio(y: np.ndarray, num_classes: int) -> float:
    """Images in the largest class / images in the smallest (1.0 = balanced; inf if a class is empty)."""
    counts = label_counts(y, num_classes)
    return float("inf") if counts.min() == 0 else float(counts.max() / counts.min())


def describe(dataset: Dataset) -> str:
    """A text summary of ``dataset`` (the tutorial's 2.2), one fact per line."""
    spec = dataset.spec
    noun, values = ("points", "coordinates") if spec.is_points else ("images", "pixel values")
    if spec.is_points:
        lines = [f"{spec.name}: {spec.num_classes} classes, points of {spec.sample_shape[0]} coordinates"]
        if dataset.modes is not None:
            lines.append(f"modes: {len(dataset.modes.centres)} Gaussians, sigma {dataset.modes.sigma:.3g}; "
                         "a point's label is its mode")
    else:
        c, h, w = spec.image_shape
        lines = [f"{spec.name}: {spec.num_classes} classes, images {c}x{h}x{w} (channels x height x width)"]
    for split, x, y in (("train", dataset.x_train, dataset.y_train),
                        ("test", dataset.x_test, dataset.y_test)):
        lines.append(f"{split:5}  {noun} {x.shape} {x.dtype}, labels {y.shape} {y.dtype}")
        if len(x):
            present = np.unique(y)
            lines.append(f"{'':5}  {values} {x.min():.4g} to {x.max():.4g}, labels present: "
                         f"{present.min()} to {present.max()} ({len(present)} of {spec.num_classes})")
    train = label_counts(dataset.y_train, spec.num_classes)
    test = label_counts(dataset.y_test, spec.num_classes)
    width = max(5, *(len(n) for n in spec.class_names))
    lines.append(f"{noun} per label:")
    lines.append(f"  {'label':>5}  {'class':<{width}}  {'train':>7}  {'test':>6}")
    for label, name in enumerate(spec.class_names):
        lines.append(f"  {label:>5}  {name:<{width}}  {train[label]:>7}  {test[label]:>6}")
    lines.append(f"imbalance ratio (largest / smallest class, train): "
                 f"{imbalance_ratio(dataset.y_train, spec.num_classes):.2f}")
    return "\n".join(lines)


def save_examples_grid(dataset: Dataset, path: str | os.PathLike, n: int = 50, seed: int = 0) -> Path:
    """Draw ``n`` random training images (10 per row), each titled with its label, and save the figure.

    Titles are the class names (``"3"`` for MNIST, ``"Sneaker"`` for Fashion-MNIST). ``seed`` picks
    the images, so the same seed draws the same grid.
    """
    if dataset.spec.is_points:
        return save_points_scatter(dataset, path, max(n, 1000), seed)
    n = min(n, len(dataset.x_train))
    picks = np.random.default_rng(seed).choice(len(dataset.x_train), size=n, replace=False)
    cols = min(n, 10)
    rows = -(-n // cols)
    fig = Figure(figsize=(1.4 * cols, 1.6 * rows))
    for i, index in enumerate(picks):
        ax = fig.add_subplot(rows, cols, i + 1)
        _show(ax, dataset.x_train[index])
        ax.set_title(dataset.spec.class_names[dataset.y_train[index]], fontsize=9)
    fig.suptitle(f"{dataset.spec.name}: {n} random training images")
    fig.tight_layout()
    return _save(fig, path)


def save_points_scatter(dataset: Dataset, path: str | os.PathLike, n: int = 1000, seed: int = 0) -> Path:
    """Point data: ``n`` random training points (the first two coordinates), coloured by label, with
    the mode centres marked when the dataset has them."""
    n = min(n, len(dataset.x_train))
    picks = np.random.default_rng(seed).choice(len(dataset.x_train), size=n, replace=False)
    points, labels = dataset.x_train[picks], dataset.y_train[picks]
    fig = Figure(figsize=(5.5, 5.5))
    ax = fig.add_subplot()
    y = points[:, 1] if points.shape[1] > 1 else np.zeros(len(points))
    ax.scatter(points[:, 0], y, c=labels, cmap="tab20" if dataset.spec.num_classes > 10 else "tab10",
               s=4, vmin=0, vmax=max(dataset.spec.num_classes - 1, 1))
    if dataset.modes is not None and dataset.modes.centres.shape[1] > 1:
        ax.scatter(*dataset.modes.centres[:, :2].T, marker="+", color="black", s=40, label="mode centres")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlim(-1, 1), ax.set_ylim(-1, 1)
    ax.set_aspect("equal")
    ax.set_title(f"{dataset.spec.name}: {n} random training points, coloured by label")
    fig.tight_layout()
    return _save(fig, path)


def save_label_histogram(dataset: Dataset, path: str | os.PathLike) -> float:
    """Bar chart of images per label, train and test side by side; returns the train imbalance ratio."""
    spec = dataset.spec
    labels = np.arange(spec.num_classes)
    ratio = imbalance_ratio(dataset.y_train, spec.num_classes)
    fig = Figure(figsize=(max(6.0, 0.6 * spec.num_classes + 2), 4))
    ax = fig.add_subplot()
    train = label_counts(dataset.y_train, spec.num_classes)
    ax.bar(labels - 0.2, train, 0.4, label="train")
    ax.bar(labels + 0.2, label_counts(dataset.y_test, spec.num_classes), 0.4, label="test")
    ax.set_ylim(0, 1.25 * max(train.max(), 1))  # room for the legend above the bars
    long_names = max(len(n) for n in spec.class_names) > 3
    ax.set_xticks(labels, spec.class_names, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center")
    ax.set_xlabel("label")
    noun = "points" if spec.is_points else "images"
    ax.set_ylabel(noun)
    ax.set_title(f"{spec.name}: {noun} per label (imbalance ratio {ratio:.2f})")
    ax.legend(ncols=2, loc="upper right")
    fig.tight_layout()
    _save(fig, path)
    return ratio


def _show(ax, image: np.ndarray) -> None:
    """Draw one (C, H, W) uint8 image without axes."""
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image.transpose(1, 2, 0))
    ax.axis("off")


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    """Render ``fig`` in the format the file name asks for (.png, .pdf, .svg...) and write it atomically."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", dpi=100)
    except ValueError as e:
        raise DataError(f"Cannot save a figure as {path} ({e}). Use a .png file name.") from None
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)
