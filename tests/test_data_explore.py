"""describe, the examples grid and the label histogram (the tutorial's 2.2, 2.3 and 2.4)."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from ganlab.data import Dataset, DatasetSpec
from ganlab.data.explore import describe, imbalance_ratio, save_examples_grid, save_label_histogram
from ganlab.errors import DataError


def tiny(channels=1, classes=("zero", "one", "two")):
    rng = np.random.default_rng(0)
    y_train = np.array([0] * 8 + [1] * 4 + [2] * 2, dtype=np.int64)
    return Dataset(DatasetSpec("tiny", (channels, 6, 6), len(classes), classes),
                   rng.integers(0, 256, (14, channels, 6, 6), dtype=np.uint8), y_train,
                   rng.integers(0, 256, (3, channels, 6, 6), dtype=np.uint8),
                   np.array([0, 1, 1], dtype=np.int64))


def test_describe_reports_shapes_range_labels_and_counts():
    text = describe(tiny())
    assert "(14, 1, 6, 6) uint8" in text and "(3,) int64" in text
    assert "pixel values" in text and "labels present: 0 to 2 (3 of 3)" in text
    assert "labels present: 0 to 1 (2 of 3)" in text  # the test split lacks class 2
    rows = [line.split() for line in text.splitlines() if line.strip().startswith(("0 ", "1 ", "2 "))]
    assert rows == [["0", "zero", "8", "1"], ["1", "one", "4", "2"], ["2", "two", "2", "0"]]
    assert "imbalance ratio (largest / smallest class, train): 4.00" in text


def test_imbalance_ratio_is_infinite_when_a_class_is_empty():
    assert imbalance_ratio(np.array([0, 0, 1]), 3) == float("inf")
    assert imbalance_ratio(np.array([0, 1, 2]), 3) == 1.0


@pytest.mark.parametrize("channels", [1, 3])
def test_examples_grid_is_a_real_png(tmp_path, channels):
    path = save_examples_grid(tiny(channels), tmp_path / "grid.png", n=10, seed=1)
    image = imread(path)
    assert image.ndim == 3 and image.shape[1] > image.shape[0] > 50  # one wide row of 10
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


def test_examples_grid_has_rows_of_ten(tmp_path):
    one_row = imread(save_examples_grid(tiny(), tmp_path / "a.png", n=10))
    two_rows = imread(save_examples_grid(tiny(), tmp_path / "b.png", n=14))
    assert two_rows.shape[0] > 1.6 * one_row.shape[0]


def test_examples_grid_depends_on_the_seed_only(tmp_path):
    a = imread(save_examples_grid(tiny(), tmp_path / "a.png", n=5, seed=0))
    b = imread(save_examples_grid(tiny(), tmp_path / "b.png", n=5, seed=0))
    c = imread(save_examples_grid(tiny(), tmp_path / "c.png", n=5, seed=7))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_label_histogram_returns_the_ratio_and_writes_a_png(tmp_path):
    ratio = save_label_histogram(tiny(), tmp_path / "hist.png")
    assert ratio == 4.0
    assert imread(tmp_path / "hist.png").shape[2] in (3, 4)


def test_unknown_figure_format_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"\.png"):
        save_label_histogram(tiny(), tmp_path / "hist.xyz")
