"""Quality numbers for generated images, judged by the project's own classifier.

Every number compares generated samples with the dataset's held-out **test** split, seen through the
evaluation CNN of :mod:`ganlab.classifier` (its predicted class, and its 128 penultimate features):

* **recognisable share** -- how many samples the classifier recognises as *some* class: the most
  likely class has probability >= ``RECOGNISABLE_CONFIDENCE`` (0.5: more likely than not). The
  classifier has an extra *junk* output (noise, smudges, scrambled strokes; :mod:`ganlab.junk`), so
  the noise of an early generator is junk, not a confident "8";
* **conditional accuracy** -- how often the classifier recognises the class a sample was generated
  for (conditional variants only), overall and per class. An unrecognisable sample counts as wrong;
* **class coverage** -- the histogram of the recognised samples' classes, its KL divergence from the
  test split's label distribution, and how many classes are covered (the measure of mode collapse).
  Unrecognisable samples cover no class: pure noise covers 0 classes, not "collapse to one";
* **FD** -- the Fréchet distance between Gaussians fitted to real and generated features. Named
  ``"FD (MNIST-CNN)"``: it is Heusel et al.'s FID recipe (2017) in *this* classifier's feature space,
  so its numbers are NOT comparable to Inception FID, nor across datasets, classifiers or sample sizes;
* **precision and recall** -- Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
  Assessing Generative Models": how many samples fall on the real data's manifold (quality), and how
  much of the real manifold the samples cover (diversity), with k-nearest-neighbour manifolds, k = 3.

A **second opinion** from a differently built classifier (``LeNet``) re-measures the class-based
numbers; where it differs from the judge by more than ``DISAGREEMENT_MARGINS``, the numbers depend on
the classifier and :func:`second_opinion_note` says so. ``docs/metrics.md`` calibrates all of this on
real digits, noise, blurred digits and generator samples.

The pure functions take tensors and return numbers; :func:`evaluate` runs a generator and returns all
of them as one JSON-ready dict.
"""
from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ganlab.data import Dataset, to_unit_range
from ganlab.errors import GanlabError

NEIGHBOURS = 3  # k of the k-NN manifolds, as recommended by Kynkäänniemi et al.
COVERAGE_MIN_SHARE = 0.2  # a class is covered if it gets >= 20 % of its expected share of samples
RECOGNISABLE_CONFIDENCE = 0.5  # P(most likely class) needed to count as recognised (docs/metrics.md)
KL_MIN_RECOGNISED = 100  # class KL needs this many recognised samples (its bias is ~(K-1)/2m nats)
# The second opinion disagrees when a number differs from the judge's by more than this. Both judge
# the same images, so the sampling error of the difference is at most sqrt(d / n) for a share d of
# images they read differently: 1.3 points at n = 2 000 even for d = 1/3. 5 points is four of those,
# and well above how much they differ on real test digits (docs/metrics.md).
DISAGREEMENT_MARGINS = {"conditional_accuracy": 0.05, "recognisable_share": 0.05, "classes_covered": 1}
DISTANCE_CHUNK = 1024  # rows of a distance matrix computed at once (bounds memory to chunk x N)
EVALUATION_SEED = 0  # fixes which labels are asked for and which real images PR compares against

# The scalar metrics drawn as curves over training (metrics.csv, metrics.png).
CURVE_METRICS = ("conditional_accuracy", "recognisable_share", "classes_covered", "class_kl", "fd", "precision",
                 "recall")

# Which way is better, for a table that marks the winner of each metric.
HIGHER_IS_BETTER = {
    "conditional_accuracy": True,
    "recognisable_share": True,
    "class_kl": False,
    "classes_covered": True,
    "fd": False,
    "precision": True,
    "recall": True,
}

_DISPLAY_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def fd_name(dataset_name: str) -> str:
    """The Fréchet distance's honest name, e.g. ``"FD (MNIST-CNN)"`` (not Inception FID)."""
    return f"FD ({_DISPLAY_NAMES.get(dataset_name, dataset_name)}-CNN)"


def metric_labels(dataset_name: str) -> dict[str, str]:
    """Human-readable names of the scalar metrics :func:`evaluate` returns, for tables and plots."""
    return {
        "conditional_accuracy": "conditional accuracy",
        "recognisable_share": f"recognisable share (p ≥ {RECOGNISABLE_CONFIDENCE:g})",
        "class_kl": "class KL (samples ‖ test)",
        "classes_covered": "classes covered",
        "fd": fd_name(dataset_name),
        "precision": f"precision (k={NEIGHBOURS})",
        "recall": f"recall (k={NEIGHBOURS})",
    }


# --- the classifier's view -------------------------------------------------------------------------


def class_probabilities(logits: torch.Tensor, num_classes: int) -> torch.Tensor:
    """P(class k) for the ``num_classes`` classes (N, K): a softmax over all outputs, the junk output
    included when the classifier has one, with the junk column left out. Rows sum to 1 - P(junk)."""
    return logits.softmax(dim=1)[:, :num_classes]


def class_count(classifier: nn.Module, logits: torch.Tensor) -> int:
    """How many of the classifier's outputs are classes: its ``num_classes`` (the rest is junk), or
    all of them for a classifier that does not say."""
    return getattr(classifier, "num_classes", logits.shape[1])


def predictions(logits: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The most likely class (N,) and its probability, the *confidence* (N,)."""
    confidence, predicted = class_probabilities(logits, num_classes).max(dim=1)
    return predicted, confidence


@torch.no_grad()
def features_and_predictions(
    classifier: nn.Module, images: torch.Tensor, batch_size: int = 500
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Penultimate features (N, D), predicted classes (N,) and their confidences (N,) for images
    (N, C, H, W) in [-1, 1]."""
    classifier.eval()
    features, predicted, confidence = [], [], []
    for batch in images.split(batch_size):
        batch_features, logits = classifier.features_and_logits(batch)
        batch_predicted, batch_confidence = predictions(logits, class_count(classifier, logits))
        features.append(batch_features)
        predicted.append(batch_predicted)
        confidence.append(batch_confidence)
    return torch.cat(features), torch.cat(predicted), torch.cat(confidence)


@torch.no_grad()
def class_predictions(
    classifier: nn.Module, images: torch.Tensor, batch_size: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted classes (N,) and their confidences (N,) only: what a second opinion needs."""
    classifier.eval()
    parts = []
    for batch in images.split(batch_size):
        logits = classifier.features_and_logits(batch)[1]
        parts.append(predictions(logits, class_count(classifier, logits)))
    return torch.cat([p for p, _ in parts]), torch.cat([c for _, c in parts])


def recognised(confidence: torch.Tensor, threshold: float = RECOGNISABLE_CONFIDENCE) -> torch.Tensor:
    """Which samples (N,) bool the classifier recognises: the most likely class has P >= threshold.

    With a junk output, P(class) = softmax over classes *and* junk, so a threshold of 0.5 reads
    "more likely than not an image of this class"."""
    return confidence >= threshold


# --- conditional accuracy and class coverage -------------------------------------------------------


def conditional_accuracy(
    predicted: torch.Tensor, intended: torch.Tensor, num_classes: int, recognisable: torch.Tensor | None = None
) -> tuple[float, list[float | None]]:
    """Fraction of samples recognised as the label they were generated for: overall, and per class.

    ``recognisable`` (N,) bool: samples marked False count as wrong whatever their predicted class;
    None counts every prediction. A class no sample was generated for has accuracy ``None`` (not 0:
    nothing was asked of it)."""
    correct = predicted == intended
    if recognisable is not None:
        correct = correct & recognisable
    correct = correct.double()
    per_class = []
    for label in range(num_classes):
        asked = intended == label
        per_class.append(correct[asked].mean().item() if asked.any() else None)
    return correct.mean().item(), per_class


def class_histogram(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts (num_classes,) of each class among ``labels``."""
    return torch.bincount(labels.flatten().cpu(), minlength=num_classes)[:num_classes]


def reference_distribution(test_labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The test split's label distribution, with add-one (Laplace) smoothing so no class has
    probability 0 (which would make the KL below infinite): q_k = (count_k + 1) / (N + K)."""
    counts = class_histogram(test_labels, num_classes).double()
    return (counts + 1) / (counts.sum() + num_classes)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p ‖ q) = Σ_k p_k log(p_k / q_k) in nats, with 0 log 0 = 0. ``q`` must be > 0 where p is."""
    p, q = p.double(), q.double()
    present = p > 0
    return (p[present] * (p[present] / q[present]).log()).sum().item()


def class_coverage(
    predicted: torch.Tensor, test_labels: torch.Tensor, num_classes: int,
    min_share: float = COVERAGE_MIN_SHARE, recognisable: torch.Tensor | None = None,
) -> dict:
    """How the samples' predicted classes spread over the classes, compared with the test split.

    Only the ``recognisable`` samples (N,) bool count (None: all of them):

    * ``class_histogram``: how many recognised samples the classifier put in each class;
    * ``class_kl``: KL(p_recognised ‖ q_test), p from the histogram, q from
      :func:`reference_distribution`. This direction (the one used for mode collapse by Metz et al.
      2017's unrolled GAN and Lin et al. 2018's PacGAN) is 0 for a perfect class balance and at most
      log(1 / min_k q_k) (about log 10 = 2.3 on MNIST) when every sample is one class. ``None`` when
      fewer than ``KL_MIN_RECOGNISED`` samples are recognised: a handful of guesses has no balance;
    * ``classes_covered``: classes k whose recognised samples make up at least ``min_share`` of the
      share the test split gives them, *among all samples*: count_k / N >= min_share * q_k. 0.2 is far
      above what a good classifier's mistakes put into a missing class, and low enough that a rare but
      present class still counts. Unrecognised samples cover nothing, so noise covers 0 classes.
    """
    kept = predicted if recognisable is None else predicted[recognisable]
    histogram = class_histogram(kept, num_classes)
    q = reference_distribution(test_labels, num_classes)
    share_of_all = histogram.double() / max(len(predicted), 1)
    fewest = 1 if recognisable is None else KL_MIN_RECOGNISED
    return {
        "class_histogram": histogram.tolist(),
        "class_kl": kl_divergence(histogram.double() / len(kept), q) if len(kept) >= fewest else None,
        "classes_covered": int((share_of_all >= min_share * q).sum().item()),
    }


def class_metrics(
    predicted: torch.Tensor, confidence: torch.Tensor, intended: torch.Tensor | None,
    test_labels: torch.Tensor, num_classes: int,
) -> dict:
    """The class-based numbers of one classifier's predictions: ``recognisable_share``, (for
    conditional samples, ``intended`` not None) ``conditional_accuracy`` and its per-class list, and
    :func:`class_coverage`."""
    recognisable = recognised(confidence)
    metrics: dict = {"recognisable_share": recognisable.double().mean().item()}
    if intended is not None:
        overall, per_class = conditional_accuracy(predicted, intended, num_classes, recognisable)
        metrics["conditional_accuracy"] = overall
        metrics["conditional_accuracy_per_class"] = per_class
    metrics.update(class_coverage(predicted, test_labels, num_classes, recognisable=recognisable))
    return metrics


# --- a second opinion ------------------------------------------------------------------------------


def disagreements(judge: dict, second: dict, margins: dict[str, float] = DISAGREEMENT_MARGINS) -> list[str]:
    """The metrics on which ``second`` differs from ``judge`` by more than its margin, in margin order.

    A metric missing (or None) on either side is not compared."""
    return [
        key for key, margin in margins.items()
        if judge.get(key) is not None and second.get(key) is not None and abs(judge[key] - second[key]) > margin
    ]


def second_opinion(judge: dict, second: dict, classifier_name: str) -> dict:
    """The ``second_opinion`` block of :func:`evaluate`'s result: the second classifier's numbers for
    the metrics in ``DISAGREEMENT_MARGINS``, and ``disagrees_on`` (a list, empty when they agree)."""
    block: dict = {"classifier": classifier_name}
    block.update({key: second[key] for key in DISAGREEMENT_MARGINS if key in second})
    block["disagrees_on"] = disagreements(judge, second)
    return block


def second_opinion_note(metrics: dict) -> str | None:
    """One line for a table when the second opinion disagrees, e.g. ``"second opinion (lenet)
    disagrees: conditional accuracy 0.31 vs 0.56 (margin 0.05)"``; None when it agrees or is absent."""
    block = metrics.get("second_opinion") or {}
    if not block.get("disagrees_on"):
        return None
    parts = [
        f"{key.replace('_', ' ')} {metrics[key]:.3g} vs {block[key]:.3g} (margin {DISAGREEMENT_MARGINS[key]:g})"
        for key in block["disagrees_on"]
    ]
    return f"second opinion ({block['classifier']}) disagrees: " + "; ".join(parts)


# --- Fréchet distance ------------------------------------------------------------------------------


def gaussian_statistics(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D), N >= 2, in float64 on the host."""
    if len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors for a covariance, got {len(features)}")
    x = features.detach().cpu().double().numpy()
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The square root of a symmetric positive semi-definite matrix, via its eigendecomposition:
    S = V diag(w) Vᵀ  ->  S^½ = V diag(√w) Vᵀ (tiny negative w from rounding are clipped to 0)."""
    w, v = np.linalg.eigh((matrix + matrix.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((Σ1 Σ2)^½) without a general matrix square root.

    Σ1 Σ2 is similar to the symmetric PSD matrix M = Σ1^½ Σ2 Σ1^½ (same eigenvalues), so
    Tr((Σ1 Σ2)^½) = Σ_i √λ_i(M), and M's eigenvalues come from a stable symmetric solver."""
    root1 = symmetric_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein) distance² between N(μ1, Σ1) and N(μ2, Σ2) (Dowson & Landau 1982):

        FD = ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½)

    Computed in float64. 0 for identical Gaussians (clamped at 0 against rounding)."""
    mean_term = float(np.sum((mu1 - mu2) ** 2))
    covariance_term = float(np.trace(sigma1) + np.trace(sigma2)) - 2 * trace_sqrt_product(sigma1, sigma2)
    return max(mean_term + covariance_term, 0.0)


def feature_frechet_distance(features1: torch.Tensor, features2: torch.Tensor) -> float:
    """FD between Gaussians fitted to two feature sets (N1, D) and (N2, D)."""
    return frechet_distance(*gaussian_statistics(features1), *gaussian_statistics(features2))


# --- precision and recall (Kynkäänniemi et al. 2019) -----------------------------------------------


def knn_radii(points: torch.Tensor, k: int = NEIGHBOURS, chunk: int = DISTANCE_CHUNK) -> torch.Tensor:
    """Distance from each point to its k-th nearest *other* point of the set: r(φ) = NND_k(φ).

    With N <= k points there is no k-th neighbour; k is then lowered to N − 1."""
    k = min(k, len(points) - 1)
    if k < 1:
        raise ValueError("a k-NN manifold needs at least 2 points")
    radii = []
    for rows in points.split(chunk):
        distances = torch.cdist(rows, points)
        # the k+1 smallest include the point itself (distance 0); the largest of them is the k-th NN
        radii.append(distances.topk(k + 1, dim=1, largest=False).values[:, -1])
    return torch.cat(radii)


def fraction_in_manifold(
    queries: torch.Tensor, points: torch.Tensor, radii: torch.Tensor, chunk: int = DISTANCE_CHUNK
) -> float:
    """Share of ``queries`` inside the manifold of ``points``: the union of the balls B(φ, r(φ)),

        f(q) = 1  if  ‖q − φ‖ <= r(φ) for at least one φ in the set, else 0."""
    inside = [
        (torch.cdist(rows, points) <= radii[None, :]).any(dim=1) for rows in queries.split(chunk)
    ]
    return torch.cat(inside).double().mean().item()


def precision_recall(
    real: torch.Tensor, generated: torch.Tensor, k: int = NEIGHBOURS, real_radii: torch.Tensor | None = None
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of feature sets (N, D):

    * precision = mean over generated g of f(g, real manifold) -- are the samples realistic?
    * recall    = mean over real x of f(x, generated manifold) -- is all of the data reproduced?

    Use equal set sizes: the radii shrink as a set grows. ``real_radii`` may be passed when cached."""
    if real_radii is None:
        real_radii = knn_radii(real, k)
    precision = fraction_in_manifold(generated, real, real_radii)
    recall = fraction_in_manifold(real, generated, knn_radii(generated, k))
    return precision, recall


# --- the real side, computed once per classifier, dataset and device --------------------------------


@dataclass
class Reference:
    """The test split as the classifier sees it, in a fixed shuffled order (seed EVALUATION_SEED)."""

    features: torch.Tensor  # (N_test, D), on the device
    labels: torch.Tensor  # (N_test,) int64, on the device
    statistics: tuple[np.ndarray, np.ndarray]  # mean and covariance of all features, float64
    radii_by_size: dict[int, torch.Tensor] = field(default_factory=dict)  # k-NN radii of features[:m]

    def radii(self, size: int) -> torch.Tensor:
        if size not in self.radii_by_size:
            self.radii_by_size[size] = knn_radii(self.features[:size])
        return self.radii_by_size[size]


# classifier -> {(dataset fingerprint, device): Reference}; entries vanish with their classifier.
_reference_cache: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def _fingerprint(dataset: Dataset) -> str:
    digest = hashlib.blake2b(np.ascontiguousarray(dataset.x_test), digest_size=16)
    digest.update(np.ascontiguousarray(dataset.y_test))
    return f"{dataset.spec.name}:{digest.hexdigest()}"


def reference_for(classifier: nn.Module, dataset: Dataset, device, batch_size: int = 500) -> Reference:
    """The classifier's view of the test split, computed on first use and cached in memory."""
    key = (_fingerprint(dataset), str(device))
    per_classifier = _reference_cache.setdefault(classifier, {})
    if key not in per_classifier:
        order = torch.randperm(len(dataset.y_test), generator=torch.Generator().manual_seed(EVALUATION_SEED))
        images = to_unit_range(torch.from_numpy(dataset.x_test)[order].to(device))
        features, _, _ = features_and_predictions(classifier, images, batch_size)
        labels = torch.from_numpy(dataset.y_test).long()[order].to(device)
        per_classifier[key] = Reference(features, labels, gaussian_statistics(features))
    return per_classifier[key]


# --- one entry point -------------------------------------------------------------------------------


def labels_to_ask_for(reference: Reference, n: int) -> torch.Tensor:
    """n labels in the test split's class proportions (its shuffled labels, repeated as needed), so a
    conditional generator is asked for the same class mix the real side has."""
    repeats = -(-n // len(reference.labels))
    return reference.labels.repeat(repeats)[:n]


def generate(generate_fn, labels: torch.Tensor, image_shape, batch_size: int) -> torch.Tensor:
    """Call ``generate_fn`` batch by batch and check what comes back."""
    batches = []
    for batch_labels in labels.split(batch_size):
        images = generate_fn(batch_labels)
        if tuple(images.shape) != (len(batch_labels), *image_shape):
            raise GanlabError(
                f"The generator returned images of shape {tuple(images.shape)} for {len(batch_labels)} "
                f"labels; the evaluation classifier expects (N, {', '.join(map(str, image_shape))})."
            )
        batches.append(images.to(labels.device, torch.float32))
    return torch.cat(batches)


def evaluate(
    generate_fn: Callable[[torch.Tensor], torch.Tensor],
    classifier: nn.Module,
    dataset: Dataset,
    n: int = 10_000,
    conditional: bool = True,
    device: torch.device | str = "cpu",
    batch_size: int = 500,
    second_classifier: nn.Module | None = None,
) -> dict:
    """Generate ``n`` samples and measure them against the test split. Returns a JSON-ready dict:

    ``n_samples``, ``num_classes``, ``recognisable_share``, ``class_histogram`` (list), ``class_kl``
    (None when too few samples are recognised), ``classes_covered``, ``fd``, ``precision``,
    ``recall``, for ``conditional`` runs ``conditional_accuracy`` and ``conditional_accuracy_per_class``
    (list; ``None`` for a class never asked for), and with a ``second_classifier`` a
    ``second_opinion`` block (:func:`second_opinion`) on the same images.

    :param generate_fn: labels (B,) int64 -> images (B, C, H, W) in [-1, 1]; unconditional
        generators ignore the labels.
    FD and precision/recall depend on ``n``: compare runs only at the same ``n``.
    """
    if n < 2:
        raise ValueError(f"evaluate needs n >= 2 samples, got {n}")
    num_classes = dataset.spec.num_classes
    reference = reference_for(classifier, dataset, device, batch_size)
    labels = labels_to_ask_for(reference, n)
    images = generate(generate_fn, labels, dataset.spec.image_shape, batch_size)
    features, predicted, confidence = features_and_predictions(classifier, images, batch_size)
    intended = labels if conditional else None

    metrics: dict = {"n_samples": n, "num_classes": num_classes}
    metrics.update(class_metrics(predicted, confidence, intended, reference.labels, num_classes))
    metrics["fd"] = frechet_distance(*gaussian_statistics(features), *reference.statistics)
    size = min(n, len(reference.features))  # equal set sizes for precision and recall
    metrics["precision"], metrics["recall"] = precision_recall(
        reference.features[:size], features[:size], real_radii=reference.radii(size)
    )
    if second_classifier is not None:
        second = class_metrics(*class_predictions(second_classifier, images, batch_size), intended,
                               reference.labels, num_classes)
        name = getattr(second_classifier, "architecture", "") or type(second_classifier).__name__
        metrics["second_opinion"] = second_opinion(metrics, second, name)
    return metrics
