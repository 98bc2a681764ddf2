"""Measuring a run: during training (``--eval-every``), at its end, and afterwards (``ganlab eval``).

The numbers come from :mod:`ganlab.metrics` (the project's own classifier, the test split). Samples
for evaluation are drawn with their own random generator, so evaluating never shifts the training's
random stream: a run with ``--eval-every`` trains exactly like one without.
"""
from __future__ import annotations

import csv
import functools
import io
import time

import numpy as np
import torch

from ganlab import hookimpl
from ganlab.classifier import JUDGE, SECOND_OPINION, load_classifier, weights_path
from ganlab.data import Dataset, load_dataset
from ganlab.files import atomic_write_json, atomic_write_text
from ganlab.metrics import evaluate, metric_labels, second_opinion_note
from ganlab.sampling import generate

EVAL_NOISE_SEED = 1234
CURVE_METRICS = ("conditional_accuracy", "recognisable_share", "classes_covered", "class_kl", "fd", "precision",
                 "recall")


def has_classifier(dataset_name: str) -> bool:
    return weights_path(dataset_name).exists()


def load_classifier_quietly(dataset_name: str, device):
    """Load the evaluation classifier without touching the training's random stream.

    Building a network draws its initial weights from torch's global generator; ``fork_rng`` puts
    the generator back afterwards, so a run with evaluation trains exactly like one without.
    One classifier per dataset and device per process: the test split's features are cached per
    classifier, so runs compared in one process (``ganlab compare --variants``, the tutorials)
    score the test split once, not once per run.
    """
    return _shared_classifier(dataset_name, str(device))


@functools.cache
def _shared_classifier(dataset_name: str, device: str, architecture: str = JUDGE):
    with torch.random.fork_rng(devices=[]):
        return load_classifier(dataset_name, device, architecture=architecture)


def second_opinion_quietly(dataset_name: str, device):
    """The second-opinion classifier (:mod:`ganlab.metrics`), or None where none is shipped."""
    if not weights_path(dataset_name, architecture=SECOND_OPINION).exists():
        return None
    return _shared_classifier(dataset_name, str(device), SECOND_OPINION)


def evaluate_generator(generator, latent_dim: int, conditional: bool, dataset: Dataset, n: int,
                       device, classifier=None) -> dict:
    """All metrics of one generator on ``n`` samples, drawn from fixed noise (``EVAL_NOISE_SEED``)."""
    classifier = classifier or load_classifier_quietly(dataset.spec.name, device)
    noise_rng = torch.Generator().manual_seed(EVAL_NOISE_SEED)

    def generate_fn(labels):
        noise = torch.randn(len(labels), latent_dim, generator=noise_rng).to(device)
        return generate(generator, noise, labels.to(device))

    return evaluate(generate_fn, classifier, dataset, n=n, conditional=conditional, device=device,
                    second_classifier=second_opinion_quietly(dataset.spec.name, device))


def evaluate_run(run_dir, n: int = 10_000, checkpoint=None, device: str = "cpu", write: bool = True) -> dict:
    """Evaluate a saved run's latest (or given) checkpoint; write ``metrics.json`` into the run folder.

    The function behind ``ganlab eval``.
    """
    from ganlab.resume import restore  # resume imports the trainer, which imports this module

    run = restore(run_dir, checkpoint=checkpoint, device=device)
    config = run.config
    dataset = load_dataset(config.dataset, config.data_path, **config.data_options)
    metrics = evaluate_generator(run.generator, config.latent_dim, run.conditional, dataset, n, run.device)
    metrics.update(step=run.step, variant=config.variant, dataset=config.dataset)
    if write:
        atomic_write_json(run.folder.metrics_file, metrics)
    return metrics


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
    if second_opinion_note(metrics):
        lines.append(second_opinion_note(metrics))
    return "\n".join(lines)


class Evaluator:
    """An observer plugin: metrics every ``every`` steps into metrics.csv/.png, and at the end into
    metrics.json (on ``final_n`` samples)."""

    def __init__(self, dataset: Dataset, every: int, n: int, final_n: int):
        self.dataset, self.every, self.n, self.final_n = dataset, every, n, final_n
        self.rows: list[dict] = []
        self.classifier = None
        self.started = 0.0
        self.elapsed_before = 0.0  # training seconds of the part before a resume
        self.evaluating = 0.0  # seconds spent evaluating, left out of the training time

    @hookimpl
    def ganlab_train_start(self, run):
        self.classifier = load_classifier_quietly(self.dataset.spec.name, run.device)
        if run.folder and run.folder.metrics_csv_file.exists():  # a resumed run keeps its curve
            self.rows = [r for r in read_metrics_csv(run.folder.metrics_csv_file) if r["step"] <= run.step]
            self.elapsed_before = self.rows[-1]["seconds"] if self.rows else 0.0
        self.started = time.perf_counter()

    @hookimpl
    def ganlab_step_end(self, run, step, records):
        first = records[0]["step"]
        if self.every and (step // self.every) > ((first - 1) // self.every):
            self.measure(run, self.n)

    @hookimpl
    def ganlab_train_end(self, run, interrupted):
        if interrupted or not run.folder or not self.final_n:
            return
        seconds = self.training_seconds()
        metrics = self.measure(run, self.final_n, record=not self.rows or self.rows[-1]["step"] != run.step)
        metrics.update(step=run.step, variant=run.config.variant, dataset=run.config.dataset,
                       train_seconds=round(seconds, 2))
        atomic_write_json(run.folder.metrics_file, metrics)

    def training_seconds(self) -> float:
        """Wall-clock seconds of training so far, evaluations left out (for time-to-quality curves)."""
        return self.elapsed_before + time.perf_counter() - self.started - self.evaluating

    def measure(self, run, n: int, record: bool = True) -> dict:
        seconds = self.training_seconds()
        began = time.perf_counter()
        metrics = evaluate_generator(run.generator, run.config.latent_dim, run.conditional, self.dataset, n,
                                     run.device, self.classifier)
        self.evaluating += time.perf_counter() - began
        if record:
            self.rows.append({"step": run.step, "seconds": round(seconds, 2), "n_samples": n,
                              **{k: metrics.get(k) for k in CURVE_METRICS}})
            if run.folder:
                write_metrics_csv(run.folder.metrics_csv_file, self.rows)
                from ganlab.report import save_metric_curves

                save_metric_curves({run.config.variant: self.rows}, run.folder.path / "metrics.png",
                                   run.config.dataset)
        return metrics


def write_metrics_csv(path, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["step", "seconds", "n_samples", *CURVE_METRICS], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    atomic_write_text(path, text.getvalue())


def read_metrics_csv(path) -> list[dict]:
    with open(path, newline="") as handle:
        return [{k: (int(v) if k in ("step", "n_samples") else (float(v) if v != "" else None))
                 for k, v in row.items()} for row in csv.DictReader(handle)]


def as_array(rows: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)
