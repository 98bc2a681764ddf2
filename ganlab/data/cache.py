"""Where datasets are kept between runs, and how files get there without ever being half-written.

The cache folder is ``$GANLAB_DATA`` when set, else ``ganlab`` under the user's cache folder
(``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux and macOS, ``%LOCALAPPDATA%`` on Windows).

Every file is written atomically: to a temporary file in the same folder, flushed to disk, then renamed
over the final name with :func:`os.replace`. A crash or a Ctrl-C leaves either the old file or the new
one, never a truncated file that a later run would mistake for a good one.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ganlab.errors import DataError, WriteError
from ganlab.files import atomic_save


def cache_dir() -> Path:
    """The folder ganlab keeps datasets in (not created here)."""
    if os.environ.get("GANLAB_DATA"):
        return Path(os.environ["GANLAB_DATA"]).expanduser()
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "ganlab" / "Cache"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "ganlab"


def cache_path(filename: str) -> Path:
    """The path of ``filename`` in the cache folder."""
    return cache_dir() / filename


def write_to_cache(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``.

    Raises :class:`DataError`, with the way to choose another cache folder, when it cannot be written.
    """
    path = Path(path)
    try:
        atomic_save(path, write)
    except WriteError as e:
        raise DataError(f"{e} For the dataset cache: set GANLAB_DATA to a folder you can write to.") from e
    return path
