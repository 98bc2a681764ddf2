"""Measuring a generator with the project's classifier: the glue between sampling and the metrics.

The numbers come from :mod:`ganlab.metrics` (the project's own classifier, the test split). Samples
for evaluation are drawn with their own seeded random generator (``EVAL_NOISE_SEED``), so evaluating
never shifts the training's random stream: a run with ``--eval-every`` trains exactly like one without,
and two evaluations of the same weights give the same numbers.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from ganlab.classifier import load_classifier, weights_path
from ganlab.data import Dataset
from ganlab.metrics import evaluate, metric_labels

EVAL_NOISE_SEED = 1234


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
    classifier = shared_classifier(dataset.spec.name, device)
    rng = torch.Generator().manual_seed(EVAL_NOISE_SEED)
    return evaluate(lambda labels: sample(labels.to(device), rng), classifier, dataset, n=n,
                    conditional=conditional, device=device)


def format_table(metrics: dict) -> str:
    """The scalar metrics as an aligned two-column table."""
    names = metric_labels(metrics.get("dataset", ""))
    rows = [(label, metrics[key]) for key, label in names.items() if metrics.get(key) is not None]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value:.4g}" if isinstance(value, float) else f"{label:<{width}}  {value}"
             for label, value in rows]
    per_class = metrics.get("conditional_accuracy_per_class")
    if per_class:
        lines.append(f"{'accuracy per class':<{width}}  " +
                     " ".join("-" if a is None else f"{a:.2f}" for a in per_class))
    return "\n".join(lines)
