"""The IDX file format of MNIST and Fashion-MNIST (a reader that checks everything, a writer), and
the ``idx`` dataset built from any pair of IDX files.

An IDX file (http://yann.lecun.com/exdb/mnist/) is a header followed by raw big-endian data::

    bytes 0-1   0x00 0x00            magic
    byte  2     type code            0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions
    then        one uint32 (big-endian) per dimension
    then        the values, in C order

The reader validates the magic number, the type code, the dimensions, and that the data is exactly as
long as the header says, *before* it allocates anything, so random or truncated bytes give a clean
:class:`DataError` and never a wrong-shaped array or a huge allocation. Files compressed with gzip
(``.gz``) are recognised by their first two bytes, whatever their name.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ganlab.data import Dataset
from ganlab.data.arrays import check_pair, holdout_split, make_dataset
from ganlab.errors import DataError

# The IDX format's type codes (LeCun's MNIST page): the third byte of every file.
IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(data: bytes, source: str = "the IDX data") -> np.ndarray:
    """Decode IDX bytes (gzip-compressed or not) into an array in native byte order.

    :param source: names the file in error messages.
    :raises DataError: when the bytes are not a complete, valid IDX file.
    """
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise _corrupt(source, f"its gzip stream is damaged ({e})") from None
    if len(data) < 4 or data[:2] != b"\0\0":
        raise _corrupt(source, "it does not start with the IDX magic number 0x0000")
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        raise _corrupt(source, f"its type code 0x{code:02X} is not one of the IDX types")
    if ndim == 0:
        raise _corrupt(source, "its header declares zero dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _corrupt(source, f"it ends inside its header ({len(data)} of {header} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(IDX_TYPES[code])
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - header != expected:
        raise _corrupt(source, f"its header promises {shape} values ({expected} bytes of data) "
                               f"but it holds {len(data) - header} bytes")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) from disk; see :func:`parse_idx`."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DataError(f"Cannot read the IDX file {path} ({e.strerror or e}). Check the path.") from e
    return parse_idx(data, str(path))


def _corrupt(source: str, why: str) -> DataError:
    return DataError(f"{source} is not a valid IDX file: {why}. The file is truncated, corrupt or of "
                     "another format; download it again (IDX files may be gzip-compressed).")


def load_idx(path: str | os.PathLike | None = None, labels: str | os.PathLike | None = None,
             test_fraction: float = 0.1) -> Dataset:
    """The ``idx`` dataset: any pair of IDX files, images (N, H, W) or (N, H, W, C) uint8 and labels (N,).

    IDX pairs carry no test split, so a seeded ``test_fraction`` of the images is held out as one;
    class names are the label numbers.
    """
    if path is None or labels is None:
        raise DataError("The idx dataset needs two files: --data IMAGES.idx3-ubyte[.gz] --labels "
                        "LABELS.idx1-ubyte[.gz] (in Python: load_dataset('idx', path=IMAGES, "
                        "labels=LABELS)).")
    x, y = read_idx(path), read_idx(labels)
    source = f"{path} with labels {labels}"
    check_pair(x, y, source)
    return make_dataset(holdout_split(x, y, source, test_fraction), "idx", source)
