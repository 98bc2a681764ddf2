"""The ``folder`` dataset: your own images, one sub-folder per class.

::

    flowers/                 or, with a split of your own:   flowers/train/daisy/...
      daisy/  001.png ...                                     flowers/test/daisy/...
      tulip/  a.jpg ...

Class names are the sub-folder names, in sorted order (so the label numbers are stable). PNG and
JPEG files are read with Pillow (installed with matplotlib); other files are ignored. If every
image is stored as grayscale the dataset has 1 channel; otherwise all are converted to RGB (3).
With ``image_size`` every image is centre-cropped to a square and resized to that size; without it,
all images must already have one size. Without ``train/`` and ``test/`` sub-folders, a seeded
``test_fraction`` of the images is held out as the test set.

Decoding thousands of JPEGs takes a while, so the decoded images are cached (``folder-*.npy`` in the
ganlab cache folder, see :mod:`ganlab.data.cache`), keyed by the folder, every image file's name,
size and modification time, and the image size: the next run reads them back at once, and so do the
other processes of a ``torchrun`` (the first one decodes, :func:`ganlab.distributed.local_main_first`).
Changing, adding or removing an image makes a new entry; delete old ones from the cache folder at will.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ganlab.data import Dataset
from ganlab.data.arrays import holdout_split, make_dataset
from ganlab.data.cache import cache_dir, write_to_cache
from ganlab.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
IMAGE_SIZES = (28, 32, 64)
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
_WIDE_GRAY_MODES = {"I", "I;16", "I;16B", "I;16L"}  # 16- (or 32-) bit grayscale
LARGEST_UNRESIZED = 128  # larger images are not what ganlab's networks are for: ask for --image-size


def load_folder(path: str | os.PathLike | None = None, image_size: int | None = None,
                test_fraction: float = 0.1) -> Dataset:
    """Read an image folder into a :class:`Dataset` (see the module docstring for the layout)."""
    if path is None or not Path(path).is_dir():
        raise DataError(f"The folder dataset needs a folder of class sub-folders: --data FOLDER "
                        f"(got {path}).")
    if image_size is not None and image_size not in IMAGE_SIZES:
        raise DataError(f"image size {image_size} is not supported; choose one of "
                        f"{', '.join(map(str, IMAGE_SIZES))}.")
    root = Path(path)
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes = _class_folders(root / "train")
        files = {split: _list_images(root / split, classes) for split in ("train", "test")}
    else:
        classes = _class_folders(root)
        files = {"train": _list_images(root, classes)}
    images = _decoded([f for split in files.values() for f, _ in split], image_size, root)
    arrays, start = {}, 0
    for split, pairs in files.items():
        arrays[f"x_{split}"] = images[start:start + len(pairs)]
        arrays[f"y_{split}"] = np.array([label for _, label in pairs], dtype=np.int64)
        start += len(pairs)
    if "x_test" not in arrays:
        arrays = holdout_split(arrays["x_train"], arrays["y_train"], str(root), test_fraction)
    return make_dataset(arrays, "folder", str(root), tuple(classes))


def _class_folders(root: Path) -> list[str]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root} has no sub-folders. Put each class's images in a sub-folder named "
                        "for the class, e.g. FOLDER/cat/1.png, FOLDER/dog/2.png.")
    return classes


def _list_images(root: Path, classes: list[str]) -> list[tuple[Path, int]]:
    """(file, label) for every PNG/JPEG in the class sub-folders of ``root``, in a stable order."""
    pairs = []
    for label, name in enumerate(classes):
        folder = root / name
        found = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        if not found:
            raise DataError(f"{folder} holds no PNG or JPEG images. Every class sub-folder needs at "
                            "least one image (.png, .jpg, .jpeg); remove the folder if the class "
                            "is not wanted.")
        pairs += [(p, label) for p in found]
    return pairs


def decoded_cache_dir() -> Path:
    """Where decoded folders are kept: the ganlab cache folder."""
    return cache_dir()


def _decoded(files: list[Path], image_size: int | None, root: Path) -> np.ndarray:
    """:func:`_read_all`, read back from the cache when these very files were decoded before."""
    stats = [(str(f.relative_to(root)), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    key = hashlib.sha256(json.dumps([str(root.resolve()), image_size, stats]).encode()).hexdigest()[:24]
    cached = decoded_cache_dir() / f"folder-{key}.npy"
    if cached.is_file():
        try:
            return np.load(cached, allow_pickle=False)
        except (OSError, ValueError):  # a damaged entry: decode again, and replace it
            pass
    images = _read_all(files, image_size, root)
    try:
        write_to_cache(cached, lambda handle: np.save(handle, images, allow_pickle=False))
    except DataError:  # an unwritable cache only costs the next run the decoding
        pass
    return images


def to_8_bit(image):
    """A 16-bit grayscale image scaled to 8 bits (0..65535 -> 0..255), not clipped at 255.

    Pillow's own conversion to "L" clips: a 16-bit image then comes out almost all white.
    """
    from PIL import Image

    if image.mode not in _WIDE_GRAY_MODES:
        return image
    values = np.asarray(image, dtype=np.float64)
    top = 65535.0 if values.max(initial=0) <= 65535 else values.max()
    return Image.fromarray(np.rint(values.clip(0) * (255.0 / top)).astype(np.uint8), "L")


def _read_all(files: list[Path], image_size: int | None, root: Path) -> np.ndarray:
    """Read every image as uint8 (N, H, W) for grayscale or (N, H, W, 3) for colour."""
    from PIL import Image, ImageOps, UnidentifiedImageError  # Pillow comes with matplotlib

    opened = []
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                opened.append(im)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as e:
            raise DataError(f"Cannot read the image {f} ({e}). Replace or remove the file.") from None
    mode = "L" if all(im.mode in _GRAY_MODES for im in opened) else "RGB"
    opened = [to_8_bit(im).convert(mode) for im in opened]
    if image_size is None:
        sizes = {im.size for im in opened}
        if len(sizes) > 1:
            a, b = sorted(sizes)[:2]
            example = [f for f, im in zip(files, opened) if im.size == b][0]
            raise DataError(f"The images in {root} have different sizes (e.g. {a[0]}x{a[1]} and "
                            f"{b[0]}x{b[1]} in {example}). Pass --image-size (28, 32 or 64) to "
                            "resize them all, or resize them yourself.")
        (width, height), = sizes
        if max(width, height) > LARGEST_UNRESIZED:
            raise DataError(f"The images in {root} are {width}x{height} pixels, far larger than the "
                            f"{'/'.join(map(str, IMAGE_SIZES))}-pixel images ganlab's networks are made "
                            f"for (an MLP on them would need gigabytes). Pass --image-size 28, 32 or 64 "
                            "to centre-crop and resize them.")
    else:
        opened = [ImageOps.fit(im, (image_size, image_size), Image.LANCZOS) for im in opened]
    return np.stack([np.asarray(im, dtype=np.uint8) for im in opened])
