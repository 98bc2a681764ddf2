"""The 2-D point datasets: generated Gaussian modes (ring, grid, spiral, moons) and .npz files of points."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ganlab.data import DatasetSpec, dataset_names, load_dataset, to_unit_range
from ganlab.data.points import nearest_centre
from ganlab.data.toy import TOY_MODES, make_toy_dataset, toy_modes
from ganlab.errors import DataError

MODE_COUNTS = {"ring": 8, "grid": 25, "spiral": 20, "moons": 16}


@pytest.fixture(scope="module")
def toy():
    """Each toy dataset at its default size (100 000 + 10 000 points), generated once."""
    return {name: load_dataset(name) for name in TOY_MODES}


# --- the generated datasets ------------------------------------------------------------------------


def test_every_toy_dataset_is_registered_with_load_dataset():
    assert set(MODE_COUNTS) | {"points"} <= set(dataset_names())


@pytest.mark.parametrize("name", MODE_COUNTS)
def test_toy_dataset_is_float32_points_in_unit_square_with_a_points_spec(toy, name):
    data = toy[name]
    assert data.x_train.shape == (100_000, 2) and data.x_test.shape == (10_000, 2)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert np.abs(data.x_train).max() < 0.95  # inside tanh's range, with a margin
    spec = data.spec
    assert spec.sample_kind == "points" and spec.is_points
    assert spec.sample_shape == spec.image_shape == (2,)
    assert spec.num_classes == MODE_COUNTS[name] == len(data.modes.centres)


@pytest.mark.parametrize("name", MODE_COUNTS)
def test_each_label_is_the_nearest_mode(toy, name):
    data = toy[name]
    assert (nearest_centre(data.x_train, data.modes.centres) == data.y_train).mean() > 0.9999


@pytest.mark.parametrize("name", MODE_COUNTS)
def test_each_mode_has_the_stated_centre_and_sigma(toy, name):
    data = toy[name]
    centres, sigma = data.modes.centres, data.modes.sigma
    for k in range(len(centres)):
        points = data.x_train[data.y_train == k]
        # ~100 000 / K points a mode: the mean is within a few sigma / sqrt(n) of the centre
        assert np.abs(points.mean(axis=0) - centres[k]).max() < 5 * sigma / np.sqrt(len(points))
        assert points.std(axis=0) == pytest.approx([sigma, sigma], rel=0.08)


@pytest.mark.parametrize("name", MODE_COUNTS)
def test_modes_are_equally_likely(toy, name):
    counts = np.bincount(toy[name].y_train, minlength=MODE_COUNTS[name])
    expected = 100_000 / MODE_COUNTS[name]
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)  # 5 binomial standard deviations


@pytest.mark.parametrize("name", MODE_COUNTS)
def test_modes_are_far_apart_in_sigmas(name):
    """Within 3 sigma of a mode never means near another one: at least 20 sigma between centres."""
    modes = toy_modes(name)
    gaps = np.linalg.norm(modes.centres[:, None] - modes.centres[None], axis=2)
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() / modes.sigma > 20


def test_ring_is_the_papers_ring_scaled():
    """8 modes on a circle, sigma = radius / 100 (Unrolled GAN, VEEGAN, PacGAN), radius 0.8."""
    modes = toy_modes("ring")
    assert np.linalg.norm(modes.centres, axis=1) == pytest.approx(np.full(8, 0.8), abs=1e-6)
    angles = np.sort(np.arctan2(modes.centres[:, 1], modes.centres[:, 0]) % (2 * np.pi))
    assert np.diff(angles) == pytest.approx(np.full(7, np.pi / 4), abs=1e-6)
    assert modes.sigma == pytest.approx(0.008)


def test_grid_is_pacgans_grid_scaled():
    """5 x 5 modes, spacing 0.4, sigma 0.01: PacGAN's (-4 + 2i, -4 + 2j) and 0.05, times 0.2."""
    modes = toy_modes("grid")
    ticks = np.linspace(-0.8, 0.8, 5)
    expected = np.array([(x, y) for x in ticks for y in ticks])  # mode 5i + j at (x_i, y_j)
    np.testing.assert_allclose(modes.centres, expected, atol=1e-6)
    assert modes.sigma == pytest.approx(0.01)


def test_spiral_modes_wind_outwards_at_equal_steps():
    centres = toy_modes("spiral").centres
    radii = np.linalg.norm(centres, axis=1)
    assert np.all(np.diff(radii) > 0) and radii[0] == pytest.approx(0.2) and radii[-1] == pytest.approx(0.8)
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert steps.max() / steps.min() < 1.1  # equally spaced along the arm


def test_moons_are_two_half_circles_of_eight_modes():
    centres = toy_modes("moons").centres.astype(np.float64)
    upper, lower = centres[:8], centres[8:]
    for moon in (upper, lower):
        middle = (moon[0] + moon[-1]) / 2  # the ends of a half-circle are a diameter apart
        radii = np.linalg.norm(moon - middle, axis=1)
        assert radii == pytest.approx(np.full(8, radii[0]), rel=1e-5)
    assert upper[:, 1].mean() > lower[:, 1].mean()


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    a, b, c = (make_toy_dataset("ring", seed, 500, 100) for seed in (3, 3, 4))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    assert not np.array_equal(a.x_train[:100], a.x_test)


def test_load_dataset_takes_seed_and_sizes():
    data = load_dataset("moons", seed=7, n_train=300, n_test=0)
    assert len(data.x_train) == 300 and len(data.x_test) == 0


@pytest.mark.parametrize("options", [{"n_train": 0}, {"n_test": -1}, {"n_train": 2.5}, {"seed": -1}])
def test_bad_sizes_or_seed_are_refused_with_a_message(options):
    with pytest.raises(DataError, match="must be a whole number"):
        load_dataset("ring", **options)


def test_sigma_can_be_widened_and_the_modes_say_so():
    data = load_dataset("ring", n_train=20_000, n_test=0, sigma=0.03)
    assert data.modes.sigma == 0.03
    offsets = data.x_train - data.modes.centres[data.y_train]
    assert offsets.std(axis=0) == pytest.approx([0.03, 0.03], rel=0.05)


@pytest.mark.parametrize("sigma", [0, -0.01, 0.5, "wide"])
def test_a_sigma_that_would_merge_modes_or_leave_the_square_is_refused(sigma):
    with pytest.raises(DataError, match="sigma for ring must be a number above 0 and at most 0.04"):
        load_dataset("ring", n_train=10, sigma=sigma)


def test_a_toy_dataset_reads_no_file():
    with pytest.raises(DataError, match="generated from a seed"):
        load_dataset("grid", path="mine.npz")


def test_an_unknown_option_names_the_ones_it_takes():
    with pytest.raises(DataError, match="seed, n_train, n_test, sigma"):
        load_dataset("spiral", radius=2)


# --- what the trainer and the plugins see ----------------------------------------------------------


def test_to_unit_range_passes_points_through_and_still_scales_pixels():
    points = torch.tensor([[-0.5, 0.25]], dtype=torch.float64)
    assert to_unit_range(points).dtype == torch.float32
    assert torch.equal(to_unit_range(points), points.float())
    pixels = torch.tensor([0, 255], dtype=torch.uint8)
    assert to_unit_range(pixels).tolist() == [-1.0, 1.0]


def test_an_image_spec_keeps_its_old_form():
    spec = DatasetSpec("mnist", (1, 28, 28), 10, tuple("0123456789"))
    assert spec.sample_kind == "image" and not spec.is_points and spec.sample_shape == (1, 28, 28)
    assert asdict(spec)["image_shape"] == (1, 28, 28)


def test_an_unknown_sample_kind_is_refused():
    with pytest.raises(ValueError, match="sample_kind"):
        DatasetSpec("x", (2,), 1, ("0",), sample_kind="voxels")


# --- .npz files of points --------------------------------------------------------------------------


def test_a_points_file_round_trips_points_labels_and_modes(tmp_path):
    data = make_toy_dataset("ring", 0, 400, 80)
    np.savez(tmp_path / "ring.npz", x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
             y_test=data.y_test, centres=data.modes.centres, sigma=data.modes.sigma)
    loaded = load_dataset("points", path=tmp_path / "ring.npz")
    np.testing.assert_array_equal(loaded.x_train, data.x_train)
    np.testing.assert_array_equal(loaded.y_test, data.y_test)
    np.testing.assert_array_equal(loaded.modes.centres, data.modes.centres)
    assert loaded.modes.sigma == pytest.approx(data.modes.sigma)
    assert loaded.spec.is_points and loaded.spec.num_classes == 8


def test_without_labels_each_point_is_labelled_by_its_nearest_centre(tmp_path):
    data = make_toy_dataset("grid", 0, 500, 50)
    np.savez(tmp_path / "p.npz", x_train=data.x_train, x_test=data.x_test, centres=data.modes.centres,
             sigma=np.float32(data.modes.sigma))
    loaded = load_dataset("points", path=tmp_path / "p.npz")
    np.testing.assert_array_equal(loaded.y_train, data.y_train)
    assert loaded.spec.num_classes == 25


def test_points_without_labels_or_centres_are_one_class_and_get_a_held_out_test_split(tmp_path, capsys):
    x = np.random.default_rng(0).uniform(-0.9, 0.9, (200, 3)).astype(np.float64)
    np.savez(tmp_path / "p.npz", x_train=x)
    loaded = load_dataset("points", path=tmp_path / "p.npz")
    assert loaded.spec.num_classes == 1 and loaded.spec.sample_shape == (3,) and loaded.modes is None
    assert len(loaded.x_train) == 180 and len(loaded.x_test) == 20 and loaded.x_train.dtype == np.float32
    assert "holding out 20 of 200 points" in capsys.readouterr().err


@settings(deadline=2000, max_examples=25)
@given(n=st.integers(1, 60), dim=st.integers(1, 4), classes=st.integers(1, 6), seed=st.integers(0, 2**16))
@example(n=1, dim=1, classes=1, seed=0)  # the bounds, tried every time
@example(n=60, dim=4, classes=6, seed=2**16)
def test_any_valid_points_file_loads_unchanged(tmp_path_factory, n, dim, classes, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-1, 1, (n, dim)).astype(np.float32), rng.integers(0, classes, n)
    x_test, y_test = rng.uniform(-1, 1, (3, dim)).astype(np.float32), rng.integers(0, classes, 3)
    path = tmp_path_factory.mktemp("points") / "p.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    loaded = load_dataset("points", path=path)
    np.testing.assert_array_equal(loaded.x_train, x)
    np.testing.assert_array_equal(loaded.y_train, y)
    assert loaded.spec.num_classes == max(y.max(), y_test.max()) + 1


def save(tmp_path, **arrays):
    path = tmp_path / "p.npz"
    np.savez(path, **arrays)
    return path


GOOD = np.zeros((10, 2), np.float32)


@pytest.mark.parametrize("arrays, message", [
    ({"points": GOOD}, "has no x_train"),
    ({"x_train": np.zeros((10, 2), np.uint8)}, "are uint8; points are float"),
    ({"x_train": np.zeros((10, 2, 2), np.float32)}, r"shape \(10, 2, 2\); expected \(N, D\)"),
    ({"x_train": np.full((10, 2), np.nan, np.float32)}, "NaN or infinite"),
    ({"x_train": np.full((10, 2), 3.0, np.float32)}, "outside \\[-1, 1\\]"),
    ({"x_train": GOOD, "y_train": np.zeros(9, int)}, "10 points but 9 labels"),
    ({"x_train": GOOD, "y_train": np.zeros(10, np.float32)}, "expected one integer mode index"),
    ({"x_train": GOOD, "y_train": np.zeros(10, int), "x_test": GOOD}, "has y_train but no y_test"),
    ({"x_train": GOOD, "y_test": np.zeros(10, int)}, "has y_test but no x_test"),
    ({"x_train": GOOD, "x_test": np.zeros((4, 3), np.float32)}, "have 2 coordinates but the test points have 3"),
    ({"x_train": GOOD, "centres": np.zeros((3, 2))}, "centres without sigma"),
    ({"x_train": GOOD, "centres": np.zeros((3, 2)), "sigma": -1.0}, "expected one number > 0"),
    ({"x_train": GOOD, "centres": np.zeros((3, 5)), "sigma": 0.1}, "the centres have 5 coordinates"),
    ({"x_train": GOOD, "y_train": np.full(10, 7), "centres": np.zeros((3, 2)), "sigma": 0.1},
     "has labels from 7 to 7"),
    ({"x_train": np.zeros((0, 2), np.float32)}, "no training points"),
])
def test_a_bad_points_file_gets_a_message_saying_what_to_fix(tmp_path, arrays, message):
    with pytest.raises(DataError, match=message):
        load_dataset("points", path=save(tmp_path, **arrays))


def test_a_points_file_that_is_not_an_npz_is_refused(tmp_path):
    (tmp_path / "p.npz").write_text("not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset("points", path=tmp_path / "p.npz")


def test_a_pickled_array_is_not_unpickled(tmp_path):
    np.savez(tmp_path / "p.npz", x_train=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset("points", path=tmp_path / "p.npz")


def test_the_points_dataset_needs_a_file():
    with pytest.raises(DataError, match="--data PATH/TO/POINTS.npz"):
        load_dataset("points")


def test_a_missing_points_file_is_named(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("points", path=tmp_path / "nope.npz")



# --- looking at point data (ganlab data info / show / hist) ----------------------------------------


def test_describe_speaks_of_points_and_modes():
    from ganlab.data.explore import describe

    text = describe(make_toy_dataset("ring", 0, 300, 30))
    assert "ring: 8 classes, points of 2 coordinates" in text
    assert "modes: 8 Gaussians, sigma 0.02" in text and "points (300, 2) float32" in text
    assert "coordinates -0.8" in text and "points per label:" in text


def test_the_examples_figure_of_point_data_is_a_scatter(tmp_path):
    from matplotlib.image import imread

    from ganlab.data.explore import save_examples_grid, save_label_histogram

    data = make_toy_dataset("grid", 0, 2000, 100)
    image = imread(save_examples_grid(data, tmp_path / "grid.png"))
    assert image.shape[:2] == (550, 550)
    assert save_label_histogram(data, tmp_path / "hist.png") > 1
