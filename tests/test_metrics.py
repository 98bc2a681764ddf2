"""Metric functions on synthetic inputs with known answers, and their calibration on real MNIST."""
from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganlab import metrics
from ganlab.data import Dataset

FAST = settings(max_examples=40, deadline=timedelta(seconds=2))


def gaussian_features(n: int, dim: int, seed: int, mean: float = 0.0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + mean


# --- Fréchet distance ------------------------------------------------------------------------------


def test_fd_of_a_set_with_itself_is_zero():
    features = gaussian_features(500, 16, seed=0)
    assert metrics.feature_frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)


def test_fd_of_diagonal_gaussians_matches_the_closed_form():
    # For diagonal covariances FD = ‖μ1 − μ2‖² + Σ_i (σ1_i − σ2_i)² (σ: standard deviations).
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([3.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    got = metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_fd_of_non_commuting_covariances_matches_the_eigenvalues_of_their_product():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    sigma1, sigma2 = a @ a.T + np.eye(5), b @ b.T + np.eye(5)
    # Σ1 Σ2 has real positive eigenvalues λ_i, and Tr((Σ1 Σ2)^½) = Σ √λ_i.
    trace_sqrt = np.sqrt(np.linalg.eigvals(sigma1 @ sigma2).real).sum()
    expected = np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    zeros = np.zeros(5)
    assert metrics.frechet_distance(zeros, sigma1, zeros, sigma2) == pytest.approx(expected, rel=1e-9)


def test_fd_of_samples_from_shifted_gaussians_approaches_the_closed_form():
    # N(0, I) against N(m·1, 4 I) in 4-D: FD = 4 m² + 4 (1 − 2)² ; sampling error is small at this N.
    dim, m = 4, 1.5
    real = gaussian_features(20_000, dim, seed=1)
    fake = 2 * gaussian_features(20_000, dim, seed=2) + m
    expected = dim * m**2 + dim * (1 - 2) ** 2
    assert metrics.feature_frechet_distance(real, fake) == pytest.approx(expected, rel=0.03)


@FAST
@given(n=st.integers(2, 60), dim=st.integers(1, 8), seed=st.integers(0, 2**16),
       shift=st.floats(-5, 5, allow_nan=False))
def test_fd_of_a_translated_copy_is_the_squared_shift(n, dim, seed, shift):
    features = gaussian_features(n, dim, seed)
    shifted = features + shift
    assert metrics.feature_frechet_distance(features, shifted) == pytest.approx(dim * shift**2, abs=1e-6)


@FAST
@given(n1=st.integers(2, 60), n2=st.integers(2, 60), dim=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_fd_is_symmetric_and_non_negative(n1, n2, dim, seed):
    a, b = gaussian_features(n1, dim, seed), gaussian_features(n2, dim, seed + 1, mean=1.0)
    forward, backward = metrics.feature_frechet_distance(a, b), metrics.feature_frechet_distance(b, a)
    assert forward >= 0
    assert forward == pytest.approx(backward, rel=1e-6, abs=1e-8)


def test_fd_refuses_a_single_sample():
    with pytest.raises(ValueError, match="at least 2"):
        metrics.gaussian_statistics(torch.zeros(1, 3))


# --- precision and recall --------------------------------------------------------------------------


def test_knn_radius_is_the_distance_to_the_kth_other_point():
    points = torch.tensor([[0.0], [1.0], [3.0], [6.0], [10.0]])
    # k = 1: nearest other point; k = 3: third nearest other point.
    assert metrics.knn_radii(points, k=1).tolist() == [1.0, 1.0, 2.0, 3.0, 4.0]
    assert metrics.knn_radii(points, k=3).tolist() == [6.0, 5.0, 3.0, 5.0, 9.0]


def test_a_point_is_in_the_manifold_when_within_some_ball():
    points, radii = torch.tensor([[0.0, 0.0], [10.0, 0.0]]), torch.tensor([1.0, 2.0])
    queries = torch.tensor([[0.5, 0.5], [11.9, 0.0], [5.0, 0.0], [0.0, 1.5]])
    assert metrics.fraction_in_manifold(queries, points, radii) == pytest.approx(0.5)


def test_identical_sets_have_full_precision_and_recall():
    features = gaussian_features(300, 8, seed=3).float()
    assert metrics.precision_recall(features, features) == (1.0, 1.0)


def test_far_apart_sets_have_zero_precision_and_recall():
    real, fake = gaussian_features(200, 8, seed=4).float(), gaussian_features(200, 8, seed=5, mean=100).float()
    assert metrics.precision_recall(real, fake) == (0.0, 0.0)


def test_one_repeated_sample_is_precise_but_recalls_nothing():
    real = gaussian_features(200, 8, seed=6).float()
    fake = real[:1].repeat(200, 1)  # a collapsed generator that always draws one real point
    precision, recall = metrics.precision_recall(real, fake)
    assert precision == 1.0
    assert recall <= 1 / 200  # at most the point itself


def test_chunking_does_not_change_precision():
    real, fake = gaussian_features(150, 4, seed=7).float(), gaussian_features(150, 4, seed=8, mean=0.5).float()
    radii = metrics.knn_radii(real)
    whole = metrics.fraction_in_manifold(fake, real, radii, chunk=1000)
    assert metrics.fraction_in_manifold(fake, real, radii, chunk=7) == whole
    # matrix-product distances round differently per chunk shape: equal to float32 precision
    assert torch.allclose(metrics.knn_radii(real, chunk=7), radii, rtol=1e-5)


@FAST
@given(n_real=st.integers(2, 80), n_fake=st.integers(2, 80), dim=st.integers(1, 6),
       seed=st.integers(0, 2**16), shift=st.floats(0, 3))
def test_precision_and_recall_are_fractions(n_real, n_fake, dim, seed, shift):
    real = gaussian_features(n_real, dim, seed).float()
    fake = gaussian_features(n_fake, dim, seed + 1, mean=shift).float()
    precision, recall = metrics.precision_recall(real, fake)
    assert 0 <= precision <= 1 and 0 <= recall <= 1


@FAST
@given(n=st.integers(2, 80), dim=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_any_set_of_distinct_points_covers_itself(n, dim, seed):
    features = gaussian_features(n, dim, seed).float()
    assert metrics.precision_recall(features, features) == (1.0, 1.0)


# --- conditional accuracy and class coverage -------------------------------------------------------


def test_conditional_accuracy_counts_matches_per_class():
    intended = torch.tensor([0, 0, 1, 1, 1, 3])
    predicted = torch.tensor([0, 2, 1, 1, 0, 3])
    overall, per_class = metrics.conditional_accuracy(predicted, intended, num_classes=4)
    assert overall == pytest.approx(4 / 6)
    assert per_class == [pytest.approx(0.5), pytest.approx(2 / 3), None, 1.0]


@FAST
@given(st.data())
def test_conditional_accuracy_for_any_class_subset(data):
    num_classes = data.draw(st.integers(1, 12))
    asked = data.draw(st.sets(st.integers(0, num_classes - 1), min_size=1))
    n = data.draw(st.integers(2, 200))
    intended = torch.tensor(data.draw(st.lists(st.sampled_from(sorted(asked)), min_size=n, max_size=n)))
    predicted = torch.tensor(data.draw(st.lists(st.integers(0, num_classes - 1), min_size=n, max_size=n)))
    overall, per_class = metrics.conditional_accuracy(predicted, intended, num_classes)
    assert 0 <= overall <= 1
    assert [k for k, a in enumerate(per_class) if a is not None] == sorted(set(intended.tolist()))
    # the overall accuracy is the per-class accuracies weighted by how often each class was asked for
    counts = torch.bincount(intended, minlength=num_classes).tolist()
    weighted = sum(a * c for a, c in zip(per_class, counts) if a is not None) / n
    assert overall == pytest.approx(weighted)


def test_kl_is_zero_for_equal_distributions_and_log_one_over_q_for_a_single_class():
    q = torch.tensor([0.25, 0.25, 0.5])
    assert metrics.kl_divergence(q, q) == pytest.approx(0.0)
    assert metrics.kl_divergence(torch.tensor([0.0, 0.0, 1.0]), q) == pytest.approx(math.log(2))


def test_coverage_of_samples_in_the_test_proportions():
    test_labels = torch.arange(10).repeat(100)
    coverage = metrics.class_coverage(test_labels.clone(), test_labels, num_classes=10)
    assert coverage["class_histogram"] == [100] * 10
    assert coverage["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert coverage["classes_covered"] == 10


def test_collapsed_samples_cover_one_class_with_a_kl_near_log_k():
    test_labels = torch.arange(10).repeat(100)
    coverage = metrics.class_coverage(torch.full((500,), 7), test_labels, num_classes=10)
    assert coverage["classes_covered"] == 1
    assert coverage["class_kl"] == pytest.approx(math.log(10), rel=1e-3)


def test_a_class_needs_a_fifth_of_its_expected_share_to_count_as_covered():
    test_labels = torch.arange(2).repeat(500)  # expected shares 0.5 / 0.5
    rare = torch.cat([torch.zeros(905), torch.ones(95)]).long()  # class 1 gets 0.095 < 0.2 · 0.5
    enough = torch.cat([torch.zeros(895), torch.ones(105)]).long()  # class 1 gets 0.105 >= 0.1
    assert metrics.class_coverage(rare, test_labels, 2)["classes_covered"] == 1
    assert metrics.class_coverage(enough, test_labels, 2)["classes_covered"] == 2


@FAST
@given(st.data())
def test_coverage_for_any_class_subset(data):
    num_classes = data.draw(st.integers(1, 12))
    used = sorted(data.draw(st.sets(st.integers(0, num_classes - 1), min_size=1)))
    n = data.draw(st.integers(2, 200))
    predicted = torch.tensor(data.draw(st.lists(st.sampled_from(used), min_size=n, max_size=n)))
    test_labels = torch.arange(num_classes).repeat(20)
    coverage = metrics.class_coverage(predicted, test_labels, num_classes)
    assert sum(coverage["class_histogram"]) == n
    assert len(coverage["class_histogram"]) == num_classes
    assert coverage["class_kl"] >= -1e-12
    assert coverage["classes_covered"] <= len(set(predicted.tolist()))


# --- recognisable samples ------------------------------------------------------------------------


def test_class_probabilities_leave_the_junk_output_out():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 5.0]])  # two classes and junk
    probabilities = metrics.class_probabilities(logits, num_classes=2)
    assert probabilities.shape == (2, 2)
    assert torch.allclose(probabilities.sum(dim=1), 1 - logits.softmax(1)[:, 2])
    predicted, confidence = metrics.predictions(logits, num_classes=2)
    assert predicted.tolist() == [0, 0]
    assert confidence[0] > metrics.RECOGNISABLE_CONFIDENCE > confidence[1]  # the second is junk


def test_without_a_junk_output_every_output_is_a_class():
    logits = torch.tensor([[0.0, 3.0, 0.0]])
    assert metrics.class_count(torch.nn.Identity(), logits) == 3
    assert metrics.class_probabilities(logits, 3).sum().item() == pytest.approx(1.0)


def test_recognised_means_confidence_at_least_the_threshold():
    confidence = torch.tensor([0.2, 0.5, 0.49, 0.99])
    assert metrics.recognised(confidence).tolist() == [False, True, False, True]


def test_unrecognisable_samples_count_as_wrong_in_conditional_accuracy():
    intended = torch.tensor([0, 0, 1, 1])
    predicted = torch.tensor([0, 0, 1, 1])  # all "right" ...
    recognisable = torch.tensor([True, False, True, False])  # ... but two are guesses on junk
    overall, per_class = metrics.conditional_accuracy(predicted, intended, 2, recognisable)
    assert overall == 0.5 and per_class == [0.5, 0.5]


def test_noise_covers_no_class_and_has_no_class_balance():
    test_labels = torch.arange(10).repeat(100)
    guesses = torch.full((2000,), 8)  # a classifier's guess on noise, all "8" ...
    coverage = metrics.class_coverage(guesses, test_labels, 10, recognisable=torch.zeros(2000, dtype=torch.bool))
    assert coverage["classes_covered"] == 0  # ... none of them recognised: no class, not "collapse to 8"
    assert coverage["class_histogram"] == [0] * 10
    assert coverage["class_kl"] is None


def test_coverage_counts_recognised_samples_against_all_samples():
    test_labels = torch.arange(2).repeat(500)  # expected shares 0.5 / 0.5: covered at >= 0.1 of all
    predicted = torch.cat([torch.zeros(500), torch.ones(500)]).long()
    recognisable = torch.zeros(1000, dtype=torch.bool)
    recognisable[:450] = True  # class 0: 450 / 1000 recognised
    recognisable[500:590] = True  # class 1: 90 / 1000 < 0.1, though all of the recognised are half 1s
    coverage = metrics.class_coverage(predicted, test_labels, 2, recognisable=recognisable)
    assert coverage["class_histogram"] == [450, 90]
    assert coverage["classes_covered"] == 1
    assert coverage["class_kl"] == pytest.approx(metrics.kl_divergence(torch.tensor([450, 90]) / 540,
                                                                        torch.tensor([0.5, 0.5])))


def test_class_kl_needs_enough_recognised_samples():
    test_labels = torch.arange(10).repeat(100)
    recognisable = torch.zeros(1000, dtype=torch.bool)
    recognisable[: metrics.KL_MIN_RECOGNISED - 1] = True
    predicted = torch.arange(10).repeat(100)
    assert metrics.class_coverage(predicted, test_labels, 10, recognisable=recognisable)["class_kl"] is None
    recognisable[metrics.KL_MIN_RECOGNISED - 1] = True
    assert metrics.class_coverage(predicted, test_labels, 10, recognisable=recognisable)["class_kl"] < 0.01


# --- the second opinion ---------------------------------------------------------------------------


def test_disagreement_is_a_difference_beyond_the_margin():
    judge = {"conditional_accuracy": 0.31, "recognisable_share": 0.40, "classes_covered": 7}
    assert metrics.disagreements(judge, {"conditional_accuracy": 0.56, "recognisable_share": 0.44,
                                         "classes_covered": 9}) == ["conditional_accuracy", "classes_covered"]
    assert metrics.disagreements(judge, {"conditional_accuracy": 0.35, "recognisable_share": 0.36,
                                         "classes_covered": 8}) == []  # 0.04, 0.04 and 1: within


def test_disagreement_skips_metrics_one_side_lacks():
    judge = {"conditional_accuracy": None, "recognisable_share": 0.9, "classes_covered": 10}
    second = {"conditional_accuracy": 0.5, "recognisable_share": 0.2}  # unconditional; no coverage
    assert metrics.disagreements(judge, second) == ["recognisable_share"]


def test_second_opinion_block_and_its_note():
    judge = {"conditional_accuracy": 0.31, "recognisable_share": 0.40, "classes_covered": 7}
    second = {"conditional_accuracy": 0.56, "recognisable_share": 0.42, "classes_covered": 7, "class_kl": 0.1}
    block = metrics.second_opinion(judge, second, "lenet")
    assert block == {"classifier": "lenet", "conditional_accuracy": 0.56, "recognisable_share": 0.42,
                     "classes_covered": 7, "disagrees_on": ["conditional_accuracy"]}
    note = metrics.second_opinion_note({**judge, "second_opinion": block})
    assert note == "second opinion (lenet) disagrees: conditional accuracy 0.31 vs 0.56 (margin 0.05)"
    agreeing = metrics.second_opinion(judge, judge, "lenet")
    assert metrics.second_opinion_note({**judge, "second_opinion": agreeing}) is None
    assert metrics.second_opinion_note(judge) is None


def test_fd_name_says_which_classifier_measured_it():
    assert metrics.fd_name("mnist") == "FD (MNIST-CNN)"
    assert metrics.fd_name("fashion-mnist") == "FD (Fashion-MNIST-CNN)"
    assert metrics.metric_labels("mnist")["fd"] == "FD (MNIST-CNN)"
    assert set(metrics.metric_labels("mnist")) == set(metrics.HIGHER_IS_BETTER)


# --- evaluate() with a tiny classifier, no data download -------------------------------------------


class LabelReadingClassifier(torch.nn.Module):
    """A stand-in classifier for 1x2x2 images whose pixel 0 encodes the class: (pixel + 1) * 2, read
    with confidence e^10 / (e^10 + 4) > 0.99. ``misread`` shifts every answer by one class."""

    def __init__(self, misread: int = 0):
        super().__init__()
        self.misread = misread

    def features_and_logits(self, images):
        flat = images.flatten(1)
        predicted = (((flat[:, 0] + 1) * 2).round().long() + self.misread).clamp(0, 4)
        return flat, 10 * torch.nn.functional.one_hot(predicted, 5).float()

    def forward(self, images):
        return self.features_and_logits(images)[1]


def image_of_label(labels: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    images = torch.zeros(len(labels), 1, 2, 2)
    images[:, 0, 0, 0] = labels.float() / 2 - 1
    images[:, 0, 1, :] = noise
    return images


def tiny_dataset() -> Dataset:
    from ganlab.data import DatasetSpec, from_unit_range

    labels = torch.arange(5).repeat(40)
    x_test = from_unit_range(image_of_label(labels, torch.rand(200, 2, generator=torch.Generator().manual_seed(0))))
    spec = DatasetSpec("tiny", (1, 2, 2), 5, tuple("abcde"))
    empty = np.zeros((0, 1, 2, 2), np.uint8)
    return Dataset(spec, empty, np.zeros(0, np.int64), x_test.numpy(), labels.numpy())


def test_evaluate_returns_every_metric_as_plain_numbers():
    import json

    perfect = lambda labels: image_of_label(labels, torch.rand(len(labels), 2))  # noqa: E731
    result = metrics.evaluate(perfect, LabelReadingClassifier(), tiny_dataset(), n=150, batch_size=64)
    assert result["conditional_accuracy"] == 1.0
    assert result["classes_covered"] == 5
    assert sum(result["class_histogram"]) == 150
    assert set(metrics.HIGHER_IS_BETTER) <= set(result)
    json.dumps(result)  # flat and JSON-ready


def test_unconditional_evaluation_reports_no_conditional_accuracy():
    constant = lambda labels: image_of_label(torch.zeros_like(labels), torch.zeros(len(labels), 2))  # noqa: E731
    result = metrics.evaluate(constant, LabelReadingClassifier(), tiny_dataset(), n=100, conditional=False)
    assert "conditional_accuracy" not in result
    assert result["classes_covered"] == 1


def test_evaluate_asks_the_second_opinion_about_the_same_images():
    perfect = lambda labels: image_of_label(labels, torch.rand(len(labels), 2))  # noqa: E731
    dataset = tiny_dataset()
    agreeing = metrics.evaluate(perfect, LabelReadingClassifier(), dataset, n=100,
                                second_classifier=LabelReadingClassifier())
    assert agreeing["second_opinion"]["disagrees_on"] == []
    misreading = metrics.evaluate(perfect, LabelReadingClassifier(), dataset, n=100,
                                  second_classifier=LabelReadingClassifier(misread=1))
    block = misreading["second_opinion"]
    assert block["conditional_accuracy"] < 0.3 and block["recognisable_share"] == 1.0
    assert block["disagrees_on"] == ["conditional_accuracy"]
    assert "second_opinion" not in metrics.evaluate(perfect, LabelReadingClassifier(), dataset, n=100)


def test_evaluate_rejects_images_of_the_wrong_shape():
    from ganlab.errors import GanlabError

    wrong = lambda labels: torch.zeros(len(labels), 1, 3, 3)  # noqa: E731
    with pytest.raises(GanlabError, match="expects"):
        metrics.evaluate(wrong, LabelReadingClassifier(), tiny_dataset(), n=10)


# --- calibration on real MNIST with the shipped classifier -----------------------------------------
# The reference is 2 000 test images; the "generators" draw from 3 000 other test images, so the
# real-image generator is as good as a generator can be and everything runs in a few seconds.

CALIBRATION_N = 2000


def real_image_generator(images: torch.Tensor, labels: torch.Tensor):
    """A perfect conditional "generator": answers each asked label with a distinct held-out real image
    of that class (the j-th request for class k gets the j-th such image)."""
    by_class = [images[labels == k] for k in range(10)]

    def generate(asked: torch.Tensor) -> torch.Tensor:
        out = torch.empty(len(asked), *images.shape[1:])
        for k in asked.unique().tolist():
            where = (asked == k).nonzero().flatten()
            out[where] = by_class[k][torch.arange(len(where)) % len(by_class[k])]
        return out

    return generate


@pytest.fixture(scope="module")
def calibration(mnist) -> dict[str, dict]:
    from ganlab.classifier import SECOND_OPINION, load_classifier
    from ganlab.data import to_unit_range

    classifier = load_classifier("mnist")
    second = load_classifier("mnist", architecture=SECOND_OPINION)
    reference = Dataset(mnist.spec, mnist.x_train[:0], mnist.y_train[:0],
                        mnist.x_test[:CALIBRATION_N], mnist.y_test[:CALIBRATION_N])
    held_out = to_unit_range(torch.from_numpy(mnist.x_test[CALIBRATION_N:5000]))
    held_out_labels = torch.from_numpy(mnist.y_test[CALIBRATION_N:5000])
    noise = torch.Generator().manual_seed(0)
    generators = {
        "real": real_image_generator(held_out, held_out_labels),
        "one image": lambda labels: held_out[:1].expand(len(labels), -1, -1, -1),
        "noise": lambda labels: torch.rand(len(labels), 1, 28, 28, generator=noise) * 2 - 1,
    }
    return {
        name: metrics.evaluate(generate, classifier, reference, n=CALIBRATION_N, batch_size=CALIBRATION_N,
                               second_classifier=second)
        for name, generate in generators.items()
    }


def test_real_images_are_recognised_as_the_label_they_were_asked_for(calibration):
    real = calibration["real"]
    assert real["recognisable_share"] >= 0.99
    assert real["conditional_accuracy"] >= 0.99  # recognisable *and* of the asked class
    opinion = real["second_opinion"]  # LeNet: 99.35 % test accuracy, 98.75 % on these 2 000 images
    assert opinion["recognisable_share"] >= 0.99 and opinion["conditional_accuracy"] >= 0.98
    assert opinion["disagrees_on"] == []


def test_uniform_noise_is_unrecognisable_and_covers_no_class(calibration):
    noise = calibration["noise"]
    assert noise["recognisable_share"] < 0.01
    assert noise["classes_covered"] == 0  # not "collapse to one class"
    assert noise["class_kl"] is None and noise["conditional_accuracy"] < 0.01
    assert noise["second_opinion"]["recognisable_share"] < 0.01
    assert noise["second_opinion"]["classes_covered"] == 0


def test_real_images_have_an_fd_near_zero_and_noise_a_huge_one(calibration):
    real, noise = calibration["real"]["fd"], calibration["noise"]["fd"]
    assert real < 2.0  # sampling error of two 2 000-image sets; a blank image scores hundreds
    assert noise > 100 * real


def test_real_images_cover_every_class_in_its_proportion(calibration):
    real = calibration["real"]
    assert real["classes_covered"] == 10
    assert real["class_kl"] < 0.01
    assert real["precision"] > 0.8 and real["recall"] > 0.8


def test_a_generator_that_draws_one_image_is_caught_by_coverage_and_recall(calibration):
    collapsed = calibration["one image"]
    assert collapsed["classes_covered"] == 1
    assert collapsed["class_kl"] > 2.0  # near the maximum, log(1 / 0.1)
    assert collapsed["recall"] < 0.01


def test_noise_is_caught_by_precision(calibration):
    assert calibration["noise"]["precision"] < 0.01
