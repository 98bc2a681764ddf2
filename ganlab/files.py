"""Writing files so that a crash never leaves half of one: write a temporary file, then rename it.

``os.replace`` is atomic on POSIX and Windows when both paths are on one file system, which is why
the temporary file sits in the destination's own folder. A write that fails (a full disk, a file
size limit, no permission, a path through a file) leaves the old file as it was, removes the temporary
one and raises :class:`~ganlab.errors.WriteError`, a message that says what to do.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ganlab.errors import WriteError

TEMPORARY_SUFFIX = ".tmp"  # temporary files are ".<name>.<random>.tmp" beside their destination

# What to do about the usual reasons a write fails, by errno name.
_ADVICE = {
    "ENOSPC": "the disk is full: free some space",
    "EDQUOT": "your disk quota is used up: free some space",
    "EFBIG": "the file is larger than this process may write (see `ulimit -f`)",
    "EACCES": "no permission to write there: choose a folder you can write to",
    "EPERM": "no permission to write there: choose a folder you can write to",
    "EROFS": "the file system is read-only: choose another folder",
    "ENOTDIR": "a part of the path is a file, not a folder: choose another path",
    "EEXIST": "a part of the path is a file, not a folder: choose another path",
}


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; rename it to ``path`` on success.

    The bytes reach the disk (``fsync``) before the rename, so a crash leaves the old file or the new
    one, never a part of one."""
    with atomic_path(path, keep_suffix=False) as tmp, open(tmp, "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def _os_error_in(exc: BaseException | None) -> OSError | None:
    """The OSError behind an exception, if any (some writers wrap it: torch.save raises RuntimeError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def write_error(path: Path, exc: OSError) -> WriteError:
    """A one-paragraph message for a write that failed: which file, why, and what to do."""
    name = errno.errorcode.get(exc.errno or 0, "")
    advice = _ADVICE.get(name, "check that the folder exists and that you may write to it")
    return WriteError(f"Could not write {path}: {exc.strerror or exc}{f' ({name})' if name else ''}; "
                      f"{advice}. The previous version of the file, if any, is unchanged.")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def atomic_save(path: str | os.PathLike, save: Callable[[BinaryIO], None]) -> None:
    """``save(handle)`` writes into a temporary file that becomes ``path`` once it is complete.

    For writers that take a file object: ``torch.save``, ``np.savez``, ``figure.savefig``.
    """
    with atomic_open(path) as handle:
        save(handle)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, keep_suffix: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` (with its suffix, unless ``keep_suffix`` is False) for writers
    that want a file name, not a handle (matplotlib's animation writers); it is renamed to ``path`` on
    success, deleted on failure (Ctrl-C included), and a failed write is a :class:`WriteError`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        suffix = TEMPORARY_SUFFIX + (path.suffix if keep_suffix else "")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        cause = _os_error_in(exc)
        if cause is not None:
            raise write_error(path, cause) from None
        raise


def _umask() -> int:
    mask = os.umask(0)  # the only way to read the umask is to set it
    os.umask(mask)
    return mask
