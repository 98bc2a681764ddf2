"""The junk images the classifiers learn to reject, and the noise they learn to see through."""
from __future__ import annotations

from datetime import timedelta

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ganlab import junk

SHAPES = st.sampled_from([(1, 28, 28), (3, 32, 32), (1, 16, 20)])


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def real_like(n: int, shape, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images in [-1, 1] with a bright bar whose position is the label (a crude "digit")."""
    images = torch.full((n, *shape), -1.0)
    labels = torch.arange(n) % 4
    for i, label in enumerate(labels.tolist()):
        images[i, :, 2 + 3 * label : 4 + 3 * label, 3:-3] = 1.0
    return images, labels


@settings(max_examples=10, deadline=timedelta(seconds=5))
@given(shape=SHAPES, n=st.integers(6, 30), seed=st.integers(0, 2**16))
@example(shape=(1, 16, 20), n=6, seed=0)  # the bounds, tried every time: the fewest images, the smallest
@example(shape=(3, 32, 32), n=30, seed=2**16)
def test_junk_images_match_the_real_ones_in_number_shape_and_range(shape, n, seed):
    images, labels = real_like(n, shape)
    made = junk.junk_images(images, labels, seeded(seed))
    assert made.shape == images.shape
    assert made.min() >= -1 and made.max() <= 1
    assert torch.equal(made, junk.junk_images(images, labels, seeded(seed)))  # a seed fixes every image


@settings(max_examples=10, deadline=timedelta(seconds=5))
@given(shape=SHAPES, n=st.integers(4, 30), seed=st.integers(0, 2**16))
@example(shape=(1, 16, 20), n=4, seed=0)  # the bounds, tried every time
@example(shape=(3, 32, 32), n=30, seed=2**16)
def test_legible_noise_keeps_number_shape_and_range(shape, n, seed):
    images, _ = real_like(n, shape)
    noisy = junk.legible_noise(images, seeded(seed))
    assert noisy.shape == images.shape
    assert noisy.min() >= -1 and noisy.max() <= 1


def test_shuffled_patches_move_pixels_without_changing_them():
    images, _ = real_like(8, (1, 28, 28))
    shuffled = junk.shuffled_patches(images, seeded())
    assert not torch.equal(shuffled, images)
    for before, after in zip(images, shuffled):  # the same pixel values, in other places
        assert torch.equal(before.flatten().sort().values, after.flatten().sort().values)


def test_shuffled_patches_are_whole_patches_in_a_new_order():
    image = torch.arange(16.0).view(1, 1, 4, 4)  # 4x4 patches of one pixel each: a permutation
    shuffled = junk.shuffled_patches(image, seeded(), grid=4)
    assert sorted(shuffled.flatten().tolist()) == list(range(16))
    odd = torch.arange(25.0).view(1, 1, 5, 5)  # the last row and column are no whole patch: kept
    kept = junk.shuffled_patches(odd, seeded(), grid=2)
    assert torch.equal(kept[..., 4, :], odd[..., 4, :]) and torch.equal(kept[..., :, 4], odd[..., :, 4])


def test_overlays_blend_each_image_with_one_of_another_class():
    images, labels = real_like(12, (1, 28, 28))
    partners = junk.partners_of_another_class(labels, seeded())
    assert (labels[partners] != labels).all()
    overlaid = junk.overlays(images, labels, seeded())
    assert torch.allclose(overlaid, (images + images[partners]) / 2)


def test_blur_keeps_a_flat_image_flat_and_spreads_a_point():
    flat = torch.full((1, 1, 9, 9), 0.3)
    assert torch.allclose(junk.gaussian_blur(flat, 2.0), flat)
    point = torch.zeros(1, 1, 15, 15)
    point[0, 0, 7, 7] = 1.0
    blurred = junk.gaussian_blur(point, 1.0)
    assert blurred.sum().item() == pytest.approx(1.0, abs=1e-5)  # the kernel sums to 1
    assert blurred[0, 0, 7, 7] < 0.2 and blurred[0, 0, 7, 8] == pytest.approx(blurred[0, 0, 8, 7].item())


def test_noise_kinds_ignore_the_images_and_fill_the_range():
    uniform = junk.uniform_noise(200, (1, 28, 28), seeded())
    assert uniform.mean().abs() < 0.01 and uniform.min() < -0.99 and uniform.max() > 0.99
    speckle = junk.speckle_blobs(50, (1, 28, 28), seeded())
    background = (speckle == -1).double().mean()
    assert 0.2 < background < 0.95  # some pixels lit, most of the rest background


def test_half_the_speckle_blobs_sit_in_the_middle():
    blobs = junk.speckle_blobs(400, (1, 28, 28), seeded())
    lit = (blobs > -1).double()
    loose, central = lit[:200], lit[200:]
    border = torch.ones(28, 28, dtype=torch.bool)
    border[6:22, 6:22] = False
    assert central[..., border].mean() < 0.5 * loose[..., border].mean()  # few lit pixels near the edge
    assert central[..., 10:18, 10:18].mean() > 0.5 * loose[..., 10:18, 10:18].mean()
