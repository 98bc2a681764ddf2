"""Drawing samples from a generator and saving them: labelled PNG grids and NPZ arrays."""
from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure  # a Figure without pyplot: no GUI, no global state

from ganlab.data import from_unit_range
from ganlab.errors import ConfigError
from ganlab.files import atomic_save


@torch.no_grad()
def generate(generator: torch.nn.Module, noise: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 1000) -> torch.Tensor:
    """Images in [-1, 1] for each (noise, label) row, in inference mode (BatchNorm's running stats).

    The generator is put back in the mode it was in, so this can be called in the middle of training.
    """
    was_training = generator.training
    generator.eval()
    try:
        parts = [generator(noise[i:i + batch_size], labels[i:i + batch_size])
                 for i in range(0, len(noise), batch_size)]
    finally:
        generator.train(was_training)
    return torch.cat(parts)


def to_uint8_images(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> uint8 numpy array of the same shape."""
    return from_unit_range(images.detach()).cpu().numpy()


def mosaic(images: np.ndarray, ncols: int, pad: int = 2, row_gap: int = 2) -> np.ndarray:
    """Tile uint8 images (N, C, H, W) into one (rows*H, cols*W[, C]) picture with white gaps."""
    n, channels, height, width = images.shape
    nrows = math.ceil(n / ncols)
    canvas = np.full((channels, row_gap + nrows * (height + row_gap) - row_gap,
                      ncols * (width + pad) - pad), 255, np.uint8)
    for index, image in enumerate(images):
        top = row_gap + (index // ncols) * (height + row_gap)
        left = (index % ncols) * (width + pad)
        canvas[:, top:top + height, left:left + width] = image
    return canvas[0] if channels == 1 else canvas.transpose(1, 2, 0)


def save_grid(images: torch.Tensor | np.ndarray, path: str | os.PathLike, ncols: int = 5,
              titles: Sequence[str] | None = None, row_names: Sequence[str] | None = None,
              suptitle: str | None = None) -> None:
    """Save images as one PNG grid, optionally titled per image (the tutorial's grid) or per row.

    Drawn as one mosaic with one ``imshow``, which is many times faster than a subplot per image.
    """
    pixels = to_uint8_images(images) if isinstance(images, torch.Tensor) else images
    n, _, height, width = pixels.shape
    nrows = math.ceil(n / ncols)
    cell = 0.9 if titles is None else 1.2
    row_gap = height // 3 if titles else 2  # room for a title above each row
    fig = Figure(figsize=(ncols * 0.9 + (0.8 if row_names else 0.2), nrows * cell + 0.5))
    ax = fig.add_axes((0.12 if row_names else 0.02, 0.02, 0.86 if row_names else 0.96,
                       0.88 if suptitle else 0.94))
    ax.imshow(mosaic(pixels, ncols, row_gap=row_gap), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    for index, title in enumerate(titles or []):
        ax.text((index % ncols) * (width + 2) + width / 2, (index // ncols) * (height + row_gap) + row_gap - 1,
                title, ha="center", va="bottom", fontsize=8)
    for row, name in enumerate(row_names or []):
        ax.text(-3, row_gap + row * (height + row_gap) + height / 2, name, ha="right", va="center", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    atomic_save(path, lambda handle: fig.savefig(handle, format="png", dpi=100))


def save_points(points: torch.Tensor, path: str | os.PathLike, labels: torch.Tensor | None = None,
                title: str | None = None) -> None:
    """2-D samples as a scatter plot on the square [-1, 1]² (coloured by label when given): the grid of
    a run on the toy datasets. GAN Lab's richer views are :mod:`ganlab.views`."""
    xy = points.detach().cpu().numpy()
    fig = Figure(figsize=(4.2, 4.4))
    ax = fig.add_axes((0.08, 0.06, 0.88, 0.84))
    colours = None if labels is None else labels.detach().cpu().numpy()
    ax.scatter(xy[:, 0], xy[:, 1], s=6, c=colours, cmap="tab10" if colours is not None else None, alpha=0.8)
    ax.set_xlim(-1.05, 1.05), ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=10)
    atomic_save(path, lambda handle: fig.savefig(handle, format="png", dpi=100))


def save_npz(path: str | os.PathLike, images: torch.Tensor | np.ndarray, labels: torch.Tensor | None) -> None:
    """Save ``images`` (floats in [-1, 1], or uint8 pixels (N, C, H, W)) as uint8 0..255 of shape
    (N, H, W) for one channel, else (N, H, W, C), and ``labels`` as int64. 2-D samples (N, D) are saved
    as float32 ``points`` instead."""
    if images.ndim == 2:
        arrays = {"points": np.asarray(images.detach().cpu() if isinstance(images, torch.Tensor) else images,
                                       dtype=np.float32)}
        if labels is not None:
            arrays["labels"] = labels.cpu().numpy().astype(np.int64)
        atomic_save(path, lambda handle: np.savez(handle, **arrays))
        return
    pixels = to_uint8_images(images) if isinstance(images, torch.Tensor) else images
    pixels = pixels[:, 0] if pixels.shape[1] == 1 else pixels.transpose(0, 2, 3, 1)
    arrays = {"images": pixels}
    if labels is not None:
        arrays["labels"] = labels.cpu().numpy().astype(np.int64)
    atomic_save(path, lambda handle: np.savez(handle, **arrays))


def choose_labels(num_classes: int, conditional: bool, n: int | None, label: int | None,
                  per_class: int | None) -> torch.Tensor:
    """The labels to draw: one class (``label``), ``per_class`` of each, or classes in turn."""
    if not conditional and (label is not None or per_class is not None):
        raise ConfigError(
            "This run is unconditional: its generator cannot be asked for a class, so --label and "
            "--per-class do not apply. Leave them out, or sample a conditional run (e.g. cgan)."
        )
    if label is not None and not 0 <= label < num_classes:
        raise ConfigError(f"--label must be a class from 0 to {num_classes - 1}, not {label}.")
    if per_class is not None:
        return torch.arange(num_classes).repeat_interleave(per_class)
    count = n or 100
    if label is not None:
        return torch.full((count,), label, dtype=torch.long)
    return torch.arange(count) % num_classes
