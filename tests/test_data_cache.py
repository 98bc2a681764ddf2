"""The cache folder and atomic writes: a failed write leaves the old file and no temporary file."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ganlab.data.cache import cache_dir, write_to_cache
from ganlab.errors import DataError, WriteError
from ganlab.files import atomic_save, atomic_write_bytes


def test_cache_dir_prefers_ganlab_data(monkeypatch, tmp_path):
    monkeypatch.setenv("GANLAB_DATA", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "mine"


@pytest.mark.skipif(os.name == "nt", reason="XDG applies to Linux and macOS")
def test_cache_dir_follows_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv("GANLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "ganlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "ganlab"


def test_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    atomic_write_bytes(tmp_path / "f", b"old")
    atomic_write_bytes(tmp_path / "f", b"new")
    assert (tmp_path / "f").read_bytes() == b"new" and os.listdir(tmp_path) == ["f"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    atomic_write_bytes(tmp_path / "f", b"old")

    def half_then_crash(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_save(tmp_path / "f", half_then_crash)
    assert (tmp_path / "f").read_bytes() == b"old" and os.listdir(tmp_path) == ["f"]


def test_saved_npz_is_readable_by_everyone_who_may_read_the_folder(tmp_path):
    path = write_to_cache(tmp_path / "d.npz", lambda handle: np.savez(handle, a=np.arange(3)))
    assert np.load(path)["a"].tolist() == [0, 1, 2]
    if os.name != "nt":
        assert path.stat().st_mode & 0o044  # not the private 0600 of a raw temporary file


def test_unwritable_cache_folder_is_a_data_error_naming_ganlab_data(tmp_path):
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(DataError, match="Could not write .*a part of the path is a file.*GANLAB_DATA"):
        write_to_cache(tmp_path / "a-file" / "f", lambda handle: handle.write(b"x"))


def test_a_path_through_a_file_is_a_clear_write_error(tmp_path):
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(WriteError, match=r"Could not write .*a-file/x.png.*(ENOTDIR|EEXIST).*choose another path"):
        atomic_write_bytes(tmp_path / "a-file" / "x.png", b"x")  # a folder cannot be made under a file
