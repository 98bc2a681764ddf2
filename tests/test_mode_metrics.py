"""Mode coverage metrics on inputs whose answers are known."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ganlab.data.toy import make_toy_dataset, toy_modes
from ganlab.mode_metrics import evaluate_modes, kl_from_uniform, mode_metrics

RING, GRID = toy_modes("ring"), toy_modes("grid")


def on_modes(modes, picks) -> torch.Tensor:
    """Points exactly on the centres ``picks`` (a list of mode indices)."""
    return torch.from_numpy(modes.centres[np.asarray(picks)])


def test_all_points_on_one_mode_cover_one_mode_with_the_largest_kl():
    metrics = mode_metrics(on_modes(RING, [3] * 1000), RING.centres, RING.sigma)
    assert metrics["modes_covered"] == 1
    assert metrics["high_quality_fraction"] == 1.0
    assert metrics["mode_kl"] == pytest.approx(math.log(8))
    assert metrics["mode_histogram"] == [0, 0, 0, 1000, 0, 0, 0, 0]


@pytest.mark.parametrize("modes", [RING, GRID], ids=["ring", "grid"])
def test_points_exactly_on_every_mode_cover_all_with_zero_kl(modes):
    k = len(modes.centres)
    metrics = mode_metrics(on_modes(modes, list(range(k)) * 40), modes.centres, modes.sigma)
    assert metrics["modes_covered"] == k and metrics["num_modes"] == k
    assert metrics["high_quality_fraction"] == 1.0
    assert metrics["mode_kl"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name", ["ring", "grid", "spiral", "moons"])
def test_real_data_covers_every_mode_with_989_permille_high_quality(name):
    """Real 2-D Gaussian samples lie within 3 sigma with probability 1 - exp(-9/2) = 0.98889."""
    data = make_toy_dataset(name, seed=1, n_train=20_000, n_test=0)
    metrics = mode_metrics(torch.from_numpy(data.x_train), data.modes.centres, data.modes.sigma)
    assert metrics["modes_covered"] == len(data.modes.centres)
    assert metrics["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.003)
    assert metrics["mode_kl"] < 0.01


@pytest.mark.parametrize("modes", [RING, GRID], ids=["ring", "grid"])
def test_uniform_noise_is_rarely_high_quality_and_covers_nothing(modes):
    """Uniform points on [-1, 1]² fall within 3 sigma of a mode with probability K·π(3σ)²/4:
    0.36 % on the ring, 1.8 % on the grid."""
    noise = torch.rand(20_000, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    metrics = mode_metrics(noise, modes.centres, modes.sigma)
    expected = len(modes.centres) * math.pi * (3 * modes.sigma) ** 2 / 4
    assert metrics["high_quality_fraction"] == pytest.approx(expected, rel=0.25)
    assert metrics["high_quality_fraction"] < 0.03
    assert metrics["modes_covered"] == 0


def test_a_mode_needs_a_fifth_of_its_fair_share_to_count():
    """800 samples on the ring: a mode needs 0.2 * 800 / 8 = 20 of them."""
    picks = [0] * 761 + [1] * 20 + [2] * 19
    metrics = mode_metrics(on_modes(RING, picks), RING.centres, RING.sigma)
    assert metrics["modes_covered"] == 2  # mode 2's 19 samples are too few
    papers_rule = mode_metrics(on_modes(RING, picks), RING.centres, RING.sigma, min_share=0)
    assert papers_rule["modes_covered"] == 3  # one sample is enough for VEEGAN and PacGAN


def test_high_quality_means_within_three_sigma():
    sigma = RING.sigma
    centre = torch.from_numpy(RING.centres[0])
    inside = centre + torch.tensor([2.99 * sigma, 0.0])
    outside = centre + torch.tensor([0.0, 3.01 * sigma])
    metrics = mode_metrics(torch.stack([inside, outside]), RING.centres, sigma)
    assert metrics["high_quality_fraction"] == 0.5 and metrics["mode_histogram"][0] == 1


def test_no_high_quality_sample_leaves_the_kl_undefined_and_the_dict_json_ready():
    metrics = mode_metrics(torch.zeros(10, 2), RING.centres, RING.sigma)  # the ring's empty centre
    assert metrics["mode_kl"] is None and metrics["modes_covered"] == 0
    assert json.loads(json.dumps(metrics)) == metrics


def test_conditional_accuracy_counts_samples_on_the_mode_asked_for():
    labels = torch.arange(80) % 8
    right = mode_metrics(on_modes(RING, labels), RING.centres, RING.sigma, labels=labels)
    wrong = mode_metrics(on_modes(RING, (labels + 1) % 8), RING.centres, RING.sigma, labels=labels)
    assert right["conditional_accuracy"] == 1.0 and wrong["conditional_accuracy"] == 0.0
    assert wrong["modes_covered"] == 8  # every mode is covered, just not when asked


def test_kl_from_uniform_is_log_k_minus_the_entropy():
    histogram = torch.tensor([2, 1, 1, 0])
    p = np.array([0.5, 0.25, 0.25])
    assert kl_from_uniform(histogram) == pytest.approx(math.log(4) + (p * np.log(p)).sum())


@settings(deadline=2000, max_examples=40)
@given(covered=st.sets(st.integers(0, 24), min_size=1), per_mode=st.integers(1, 30),
       jitter=st.floats(0, 2.9))
@example(covered={0}, per_mode=1, jitter=0.0)  # the bounds, tried every time: one point exactly on a mode,
@example(covered=set(range(25)), per_mode=30, jitter=2.9)  # every mode, each point just inside 3 sigma
@example(covered={24}, per_mode=1, jitter=2.9)
def test_points_within_three_sigma_of_some_modes_cover_exactly_those(covered, per_mode, jitter):
    picks = sorted(covered) * per_mode
    angle = torch.rand(len(picks), generator=torch.Generator().manual_seed(len(picks))) * 2 * math.pi
    offset = jitter * GRID.sigma * torch.stack([angle.cos(), angle.sin()], dim=1)
    metrics = mode_metrics(on_modes(GRID, picks) + offset, GRID.centres, GRID.sigma)
    assert metrics["modes_covered"] == len(covered)  # equal counts always clear a fifth of the share
    assert metrics["high_quality_fraction"] == 1.0
    assert 0 <= metrics["mode_kl"] <= math.log(25) + 1e-9
    assert metrics["mode_kl"] == pytest.approx(math.log(25 / len(covered)), abs=1e-9)


def test_evaluate_modes_asks_for_every_mode_equally():
    asked = []

    def generate(labels):
        asked.append(labels)
        return on_modes(GRID, labels)

    metrics = evaluate_modes(generate, GRID.centres, GRID.sigma, n=2500, conditional=True, batch_size=1000)
    labels = torch.cat(asked)
    assert len(asked) == 3 and torch.bincount(labels).tolist() == [100] * 25
    assert metrics["modes_covered"] == 25 and metrics["conditional_accuracy"] == 1.0
    assert metrics["n_samples"] == 2500


def test_evaluate_modes_refuses_points_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"expected \(10, 2\)"):
        evaluate_modes(lambda labels: torch.zeros(len(labels), 3), RING.centres, RING.sigma, n=10)
