"""`ganlab data download|info|show|hist` through click's CliRunner, writing real PNGs."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from ganlab.cli import cli

from conftest import encode_idx


def invoke(*args):
    return CliRunner().invoke(cli, ["data", *map(str, args)])


@pytest.fixture
def npz_file(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "three.npz"
    np.savez(path, x_train=rng.integers(0, 256, (60, 16, 16, 3), dtype=np.uint8),
             y_train=np.repeat(np.arange(3), 20).astype(np.uint8),
             x_test=rng.integers(0, 256, (9, 16, 16, 3), dtype=np.uint8),
             y_test=np.repeat(np.arange(3), 3).astype(np.uint8),
             class_names=np.array(["red", "green", "blue"]))
    return path


def test_info_prints_the_tutorials_summary(npz_file):
    result = invoke("info", "npz", "--data", npz_file)
    assert result.exit_code == 0, result.output
    assert "(60, 3, 16, 16) uint8" in result.output and "green" in result.output


def test_info_mnist_from_the_cache(mnist):  # conftest's fixture makes sure MNIST is cached
    result = invoke("info", "mnist")
    assert result.exit_code == 0 and "(60000, 1, 28, 28) uint8" in result.output


def test_show_writes_a_png_grid(npz_file, tmp_path):
    result = invoke("show", "npz", "--data", npz_file, "--out", tmp_path / "grid.png", "--seed", 3)
    assert result.exit_code == 0, result.output
    assert imread(tmp_path / "grid.png").shape[1] > 500


def test_hist_writes_a_png_and_prints_the_ratio(npz_file, tmp_path):
    result = invoke("hist", "npz", "--data", npz_file, "--out", tmp_path / "hist.png")
    assert result.exit_code == 0, result.output
    assert "imbalance ratio (largest / smallest class, train): 1.00" in result.output
    assert imread(tmp_path / "hist.png").ndim == 3


def test_idx_files_through_data_and_labels(tmp_path):
    (tmp_path / "x").write_bytes(encode_idx(np.zeros((20, 8, 8), np.uint8)))
    (tmp_path / "y").write_bytes(encode_idx(np.arange(20, dtype=np.uint8) % 2))
    result = invoke("info", "idx", "--data", tmp_path / "x", "--labels", tmp_path / "y")
    assert result.exit_code == 0, result.output
    assert "2 classes, images 1x8x8" in result.output


def test_download_prints_where_the_dataset_went(mnist):
    result = invoke("download", "mnist")
    assert result.exit_code == 0 and "mnist.npz" in result.output


def test_download_of_a_file_dataset_is_a_clean_error():
    result = invoke("download", "npz")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "read from your own files" in result.output


def test_a_corrupt_file_is_a_clean_error(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    result = invoke("info", "mnist", "--data", tmp_path / "bad.npz")
    assert result.exit_code == 1 and "not a readable .npz" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unknown_dataset_lists_the_known_ones(tmp_path):
    result = invoke("hist", "cifar", "--out", tmp_path / "h.png")
    assert result.exit_code == 1 and "fashion-mnist" in result.output
