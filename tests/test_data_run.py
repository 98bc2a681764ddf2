"""A variant trains on datasets other than MNIST with no change: `ganlab run --dataset ...` end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from ganlab.cli import cli
from ganlab.data import fashion
from ganlab.data.sources import IDX_FILES

from conftest import encode_idx


def run(*args):
    return CliRunner().invoke(cli, ["run", "--quiet", "--final-eval-samples", "0", *map(str, args)])


@pytest.fixture
def fashion_data(tmp_path):
    """``--data`` for fashion-mnist: nothing when Debian's package is installed, else a small IDX folder."""
    if fashion.SYSTEM_DIR.is_dir():
        return []
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (64, 28, 28), dtype=np.uint8),
              "y_train": (np.arange(64) % 10).astype(np.uint8),
              "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
              "y_test": np.arange(10, dtype=np.uint8)}
    for key, name in IDX_FILES.items():
        (tmp_path / name).write_bytes(encode_idx(arrays[key]))
    return ["--data", tmp_path]


def test_cgan_trains_on_fashion_mnist_and_titles_grids_with_class_names(fashion_data, tmp_path):
    out = tmp_path / "run"
    result = run("--variant", "cgan", "--dataset", "fashion-mnist", *fashion_data, "--steps", 10,
                 "--batch-size", 16, "--sample-every", 10, "--out", out)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "config.json").read_text())
    assert saved["dataset"]["name"] == "fashion-mnist" and saved["dataset"]["class_names"][9] == "Ankle boot"
    assert imread(out / "samples" / "step_000010.png").ndim == 3


def test_cgan_trains_on_rgb_32x32_images(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "rgb.npz", x_train=rng.integers(0, 256, (48, 32, 32, 3), dtype=np.uint8),
             y_train=(np.arange(48) % 3).astype(np.uint8), class_names=np.array(["r", "g", "b"]))
    out = tmp_path / "run"
    result = run("--variant", "cgan", "--dataset", "npz", "--data", tmp_path / "rgb.npz",
                 "--steps", 4, "--batch-size", 8, "--sample-every", 4, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "samples" / "step_000004.png").exists()


def test_cgan_trains_on_idx_files_given_with_labels(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "images.idx3-ubyte").write_bytes(encode_idx(rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)))
    (tmp_path / "labels.idx1-ubyte").write_bytes(encode_idx((np.arange(40) % 4).astype(np.uint8)))
    out = tmp_path / "run"
    result = run("--variant", "cgan", "--dataset", "idx", "--data", tmp_path / "images.idx3-ubyte",
                 "--labels", tmp_path / "labels.idx1-ubyte", "--steps", 4, "--batch-size", 8, "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["dataset"]["num_classes"] == 4


def test_cgan_trains_on_an_image_folder_resized(tmp_path):
    from matplotlib.image import imsave

    rng = np.random.default_rng(2)
    for name in ("cats", "dogs"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(6):
            imsave(tmp_path / "images" / name / f"{i}.png", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    out = tmp_path / "run"
    result = run("--variant", "cgan", "--dataset", "folder", "--data", tmp_path / "images", "--image-size", 32,
                 "--steps", 3, "--batch-size", 4, "--out", out)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "config.json").read_text())["dataset"]
    assert saved["image_shape"] == [3, 32, 32] and saved["class_names"] == ["cats", "dogs"]
