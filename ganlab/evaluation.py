"""Measuring a generator: the glue between sampling and the metrics.

Images are judged by :mod:`ganlab.metrics` (the project's own classifier, the test split); 2-D points
by :mod:`ganlab.mode_metrics` (how the samples fall on the data's modes). Samples
for evaluation are drawn with their own seeded random generator (``EVAL_NOISE_SEED``), so evaluating
never shifts the training's random stream: a run with ``--eval-every`` trains exactly like one without,
and two evaluations of the same weights give the same numbers.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ganlab.classifier import load_classifier, weights_path
from ganlab.data import Dataset, DatasetSpec
from ganlab.metrics import CURVE_METRICS, HIGHER_IS_BETTER, evaluate, metric_labels
from ganlab.mode_metrics import MODE_HIGHER_IS_BETTER, MODE_METRIC_LABELS, evaluate_modes

EVAL_NOISE_SEED = 1234


@dataclass(frozen=True)
class MetricSet:
    """The metrics a run of some data is measured with: images by the project's classifier, 2-D
    points by their distance to the data's modes (:mod:`ganlab.mode_metrics`)."""

    labels: dict[str, str]  # key -> human-readable name, in the order tables show them
    higher_is_better: dict[str, bool]
    curves: tuple[str, ...]  # the keys drawn over training (metrics.csv, metrics.png)


def metric_set(spec: DatasetSpec) -> MetricSet:
    if spec.is_points:
        return MetricSet(dict(MODE_METRIC_LABELS), dict(MODE_HIGHER_IS_BETTER), tuple(MODE_METRIC_LABELS))
    return MetricSet(metric_labels(spec.name), dict(HIGHER_IS_BETTER), CURVE_METRICS)


def measurable(dataset: Dataset) -> bool:
    """Whether ganlab can measure samples of this data: images with a shipped classifier (MNIST,
    Fashion-MNIST), or points whose modes are known (the toy datasets, npz files with centres)."""
    return dataset.modes is not None if dataset.spec.is_points else has_classifier(dataset.spec.name)


def has_classifier(dataset_name: str) -> bool:
    """Whether ganlab ships an evaluation classifier for this dataset (MNIST, Fashion-MNIST)."""
    return weights_path(dataset_name).exists()


def shared_classifier(dataset_name: str, device):
    """The evaluation classifier, loaded without touching the training's random stream.

    Building a network draws its initial weights from torch's global generator; ``fork_rng`` puts
    the generator back afterwards, so a run with evaluation trains exactly like one without.
    One classifier per dataset and device per process: the test split's features are cached per
    classifier, so runs compared in one process (``ganlab compare --variants``, the tutorials)
    score the test split once, not once per run.
    """
    return _shared_classifier(dataset_name, str(device))


@functools.cache
def _shared_classifier(dataset_name: str, device: str):
    with torch.random.fork_rng(devices=[]):
        return load_classifier(dataset_name, device)


def evaluate_samples(sample: Callable[[torch.Tensor, torch.Generator], torch.Tensor], dataset: Dataset,
                     n: int, conditional: bool, device) -> dict:
    """All metrics of a generator on ``n`` samples, its latent drawn from a generator seeded ``EVAL_NOISE_SEED``.

    :param sample: ``sample(labels, rng) -> samples``: the run's sampling generator with its latent
        hook (``RunView.sample`` and ``TrainingRun.sample`` are such functions).
    """
    rng = torch.Generator().manual_seed(EVAL_NOISE_SEED)
    if dataset.spec.is_points:
        return evaluate_modes(lambda labels: sample(labels.to(device), rng), dataset.modes.centres,
                              dataset.modes.sigma, n=n, conditional=conditional, device=device)
    classifier = shared_classifier(dataset.spec.name, device)
    return evaluate(lambda labels: sample(labels.to(device), rng), classifier, dataset, n=n,
                    conditional=conditional, device=device)


def format_table(metrics: dict, labels: dict[str, str] | None = None) -> str:
    """The scalar metrics as an aligned two-column table (``labels``: the names to show, by key)."""
    names = labels or {**metric_labels(metrics.get("dataset", "")), **MODE_METRIC_LABELS}
    rows = [(label, metrics[key]) for key, label in names.items() if metrics.get(key) is not None]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value:.4g}" if isinstance(value, float) else f"{label:<{width}}  {value}"
             for label, value in rows]
    per_class = metrics.get("conditional_accuracy_per_class")
    if per_class:
        lines.append(f"{'accuracy per class':<{width}}  " +
                     " ".join("-" if a is None else f"{a:.2f}" for a in per_class))
    return "\n".join(lines)
