"""Read a pickle of numpy arrays without letting it run code.

``pickle.load`` on downloaded bytes is remote code execution: a pickle may name any importable
function (``os.system``, ``builtins.eval``...) and call it while loading. A pickle of plain numpy
arrays only needs the few globals numpy uses to rebuild an array, so :class:`ArrayUnpickler`
admits exactly those and refuses everything else with a :class:`DataError` before it is imported.
"""
from __future__ import annotations

import codecs
import io
import pickle
from typing import Any, BinaryIO

import numpy as np

from ganlab.errors import DataError

# ndarray.__reduce__ names numpy's array-rebuilding function; it lives in numpy.core.multiarray in
# numpy 1.x (and in every pickle written by it) and numpy._core.multiarray in numpy 2.x. Taking the
# functions from numpy's own pickles avoids importing the deprecated module names.
_RECONSTRUCT = np.zeros(0).__reduce__()[0]
_FROMBUFFER = np.zeros(0).__reduce_ex__(5)[0]  # pickle protocol 5 rebuilds arrays from a buffer
ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1").
    ("_codecs", "encode"): codecs.encode,
}


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays, tuples, lists, dicts, numbers and strings only."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"Refusing to load a pickle that names {module}.{name}: only numpy arrays are "
                "allowed, and loading anything else could run code. The file is not the dataset "
                "ganlab expects; delete it and download the dataset again."
            ) from None


def load(file: BinaryIO) -> Any:
    """Unpickle numpy arrays from an open binary file.

    ``encoding="latin1"`` lets Python 3 read arrays pickled by Python 2 (such as the
    deeplearning.net MNIST pickle), whose raw bytes are stored as ``str``.
    """
    try:
        return ArrayUnpickler(file, encoding="latin1").load()
    except DataError:
        raise
    except Exception as e:  # a corrupt pickle can raise almost anything
        raise DataError(f"The pickle is corrupt ({type(e).__name__}: {e}); download it again.") from e


def loads(data: bytes) -> Any:
    """Unpickle numpy arrays from bytes (see :func:`load`)."""
    return load(io.BytesIO(data))
