"""Measuring a run while it trains (``--eval-every``) and when it ends (metrics.json), as an observer.

Samples for evaluation are drawn with their own random generator (see :mod:`ganlab.evaluation`), so
evaluating never shifts the training's random stream: a run with ``--eval-every`` trains exactly like
one without. The wall-clock seconds recorded beside each evaluation leave the evaluations' own time
out, for time-to-quality curves.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ganlab.data import Dataset
from ganlab.evaluation import evaluate_samples, metric_set
from ganlab.figures import save_metric_curves
from ganlab.hookspecs import hookimpl


class Evaluator:
    """Metrics every ``every`` steps into metrics.csv/.png, and at the end into metrics.json (on
    ``final_n`` samples). ``announce(run, step, metrics)`` is called after each evaluation."""

    def __init__(self, dataset: Dataset, every: int, n: int, final_n: int,
                 announce: Callable[[Any, int, dict], None] | None = None):
        self.dataset, self.every, self.n, self.final_n = dataset, every, n, final_n
        self.metrics = metric_set(dataset.spec)
        self.announce = announce or (lambda run, step, metrics: None)
        self.rows: list[dict] = []
        self.started = 0.0
        self.elapsed_before = 0.0  # training seconds of the part before a resume
        self.evaluating = 0.0  # seconds spent evaluating, left out of the training time

    @hookimpl
    def ganlab_train_start(self, run):
        if run.folder:  # a resumed run keeps its curve
            self.rows = [r for r in run.folder.read_metric_curve() if r["step"] <= run.step]
            self.elapsed_before = self.rows[-1]["seconds"] if self.rows else 0.0
        self.started = time.perf_counter()

    @hookimpl
    def ganlab_step_end(self, run, step, records):
        first = records[0]["step"]
        if self.every and (step // self.every) > ((first - 1) // self.every):
            self.measure(run, self.n)

    @hookimpl
    def ganlab_train_end(self, run, outcome):
        if outcome != "finished" or not run.folder or not self.final_n:
            return
        seconds = self.training_seconds()
        metrics = self.measure(run, self.final_n, record=not self.rows or self.rows[-1]["step"] != run.step)
        metrics.update(step=run.step, variant=run.config.variant, dataset=run.config.dataset,
                       sampled_from=run.sampling_name, train_seconds=round(seconds, 2))
        run.folder.write_metrics(metrics)

    def training_seconds(self) -> float:
        """Wall-clock seconds of training so far, evaluations left out (for time-to-quality curves)."""
        return self.elapsed_before + time.perf_counter() - self.started - self.evaluating

    def measure(self, run, n: int, record: bool = True) -> dict:
        seconds = self.training_seconds()
        began = time.perf_counter()
        metrics = evaluate_samples(run.sample, self.dataset, n, run.conditional, run.device)
        self.evaluating += time.perf_counter() - began
        if record:
            self.rows.append({"step": run.step, "seconds": round(seconds, 2), "n_samples": n,
                              **{k: metrics.get(k) for k in self.metrics.curves}})
            if run.folder:
                run.folder.write_metric_curve(self.rows, self.metrics.curves)
                save_metric_curves({run.config.variant: self.rows}, run.folder.metrics_curve_file, self.metrics)
        self.announce(run, run.step, metrics)
        return metrics
