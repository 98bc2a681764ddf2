"""Several seeds with their spread, and several trainings at once that share the cores."""
from __future__ import annotations

import json
import os

import pytest
import torch
from click.testing import CliRunner

from ganlab import api
from ganlab.checkpoints import load_checkpoint
from ganlab.cli import cli
from ganlab.config import RunConfig
from ganlab.jobs import busy_cpu_note, cores, threads_per_job
from ganlab.runs import RunFolder
from ganlab.spread import clearly_better, describe, spread

from conftest import random_dataset


def test_spread_of_known_numbers():
    summary = spread([0.90, 0.92, 0.94, None])
    assert summary["n"] == 3 and summary["mean"] == pytest.approx(0.92)
    assert summary["sd"] == pytest.approx(0.02) and (summary["min"], summary["max"]) == (0.90, 0.94)
    assert describe(summary) == "0.92 [0.9–0.94]"
    assert describe(spread([1.0, 2.0, 3.0, 4.0])) == "2.5 ± 1.29"
    assert describe(spread([5.0])) == "5" and describe(spread([None])) == "—"


def test_a_winner_is_clear_only_when_the_ranges_do_not_overlap():
    a, b, c = spread([0.92, 0.93, 0.94]), spread([0.89, 0.90, 0.91]), spread([0.90, 0.925, 0.93])
    assert clearly_better(a, b, higher_is_better=True) and not clearly_better(a, c, higher_is_better=True)
    assert clearly_better(b, a, higher_is_better=False)


def test_two_seeds_give_two_different_runs_and_a_summary_with_their_spread(tmp_path, small_mnist_npz):
    result = CliRunner().invoke(cli, ["compare", "--variants", "gan", "--seeds", "2", "--steps", "3", "--data",
                                      small_mnist_npz, "--n", "200", "--eval-every", "0", "--quiet",
                                      "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    folders = [tmp_path / "report" / "runs" / f"gan-seed{seed}" for seed in (0, 1)]
    weights = [load_checkpoint(RunFolder(f).checkpoints()[-1])["generator"] for f in folders]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    fd = summary["gan"]["metrics"]["fd"]
    assert summary["gan"]["seeds"] == [0, 1] and fd["n"] == 2
    per_run = [json.loads((f / "metrics.json").read_text())["fd"] for f in folders]
    assert fd["values"] == pytest.approx(per_run) and fd["mean"] == pytest.approx(sum(per_run) / 2)


def test_jobs_run_in_separate_processes_with_the_cores_split(tmp_path, small_mnist_npz):
    folders = api.train_variants(["gan", "cgan"], tmp_path, steps=3, seeds=[0], data_path=small_mnist_npz,
                                 eval_every=0, n=0, quiet=True, jobs=2)
    writers = set()
    for folder in folders:
        saved = json.loads((folder / "config.json").read_text())
        assert saved["torch_threads"] == threads_per_job(2) == max(1, cores() // 2)
        writers.add((folder / ".lock").read_text())  # each folder's writer wrote its process id there
    assert len(writers) == 2 and str(os.getpid()) not in writers


def test_a_run_uses_the_threads_it_is_given(tmp_path):
    before = torch.get_num_threads()
    try:
        run = api.train(RunConfig(variant="gan", steps=1, batch_size=4, seed=0, device="cpu", threads=1,
                                  final_eval_samples=0, out=str(tmp_path / "run")), dataset=random_dataset(),
                        quiet=True)
        assert torch.get_num_threads() == 1
        assert json.loads(run.folder.config_file.read_text())["torch_threads"] == 1
    finally:
        torch.set_num_threads(before)


def test_a_busy_cpu_is_noticed_unless_threads_were_chosen(monkeypatch):
    monkeypatch.setattr("os.getloadavg", lambda: (cores() + 3.0, 0.0, 0.0))
    note = busy_cpu_note(threads=0)
    assert note and "--threads" in note and "--jobs" in note
    assert busy_cpu_note(threads=1) is None
    monkeypatch.setattr("os.getloadavg", lambda: (0.1, 0.0, 0.0))
    assert busy_cpu_note(threads=0) is None


def test_eval_can_measure_the_trained_generator_of_an_ema_run(tmp_path, mnist):
    run = api.train(RunConfig(variant="cgan+ema", steps=30, batch_size=16, seed=0, device="cpu",
                              final_eval_samples=0, out=str(tmp_path / "run")), dataset=mnist, quiet=True)
    ema = api.evaluate(run.folder.path, n=300)
    trained = api.evaluate(run.folder.path, n=300, trained_generator=True)
    assert ema["sampled_from"] == "ema" and trained["sampled_from"] == "generator"
    assert ema["fd"] != trained["fd"]
    assert json.loads(run.folder.trained_metrics_file.read_text())["fd"] == trained["fd"]
    assert json.loads(run.folder.metrics_file.read_text())["fd"] == ema["fd"]


def test_runs_that_differ_only_in_the_seed_are_one_recipe():
    keras, torch_init = {"init": "keras"}, {"init": "torch"}  # a run folder records every declared setting
    configs = [RunConfig(variant="cgan", seed=0, settings=keras),
               RunConfig(variant="cgan", seed=1, out="elsewhere", eval_every=7, settings=keras),
               RunConfig(variant="cgan", seed=0, d_update="joint", settings=torch_init),
               RunConfig(variant="gan", seed=2, settings=keras)]
    assert api.recipe_names(configs) == ["cgan d_update=auto init=keras", "cgan d_update=auto init=keras",
                                         "cgan d_update=joint init=torch", "gan"]
    # a run from before a plugin declared a setting is still a seed of the recipe that has it at its default
    older = RunConfig(variant="cgan", seed=0, settings=keras)
    newer = RunConfig(variant="cgan", seed=1, settings={**keras, "d_activation": "leaky_relu"})
    assert api.recipe_names([older, newer]) == ["cgan", "cgan"]


def grouped_runs(values_by_recipe):
    from ganlab.evaluation import MetricSet

    metric_set = MetricSet({"conditional_accuracy": "conditional accuracy"}, {"conditional_accuracy": True},
                           ("conditional_accuracy",))
    return [{"name": f"{recipe}-{seed}", "group": recipe, "seed": seed, "metric_set": metric_set,
             "metrics": {"conditional_accuracy": value, "train_seconds": 100.0 + seed}}
            for recipe, values in values_by_recipe.items() for seed, value in enumerate(values)]


def test_the_report_table_shows_each_recipes_spread_and_stars_only_a_clear_winner():
    from ganlab.figures import metrics_table

    columns, rows = metrics_table(grouped_runs({"a": [0.92, 0.93, 0.94], "b": [0.89, 0.90, 0.91]}))
    assert columns == ["a", "b"]
    assert dict(rows)["conditional accuracy"] == ["0.93 [0.92–0.94] ★", "0.9 [0.89–0.91]"]
    assert dict(rows)["seeds"] == ["0, 1, 2", "0, 1, 2"]
    _, rows = metrics_table(grouped_runs({"a": [0.92, 0.93, 0.94], "c": [0.90, 0.925, 0.93]}))
    assert not any("★" in cell for cell in dict(rows)["conditional accuracy"])  # the ranges overlap


def test_several_seeds_are_drawn_as_their_mean_with_a_min_max_band():
    from matplotlib.collections import PolyCollection

    from ganlab.data import DatasetSpec
    from ganlab.evaluation import metric_set
    from ganlab.figures import metric_figure

    seeds = [[{"step": s, "seconds": s / 10, "fd": value + s / 100} for s in (100, 200, 300)] for value in (40, 50, 60)]
    fig = metric_figure({"cgan": seeds, "gan": seeds[0]}, ["fd"],
                        metric_set(DatasetSpec("mnist", (1, 28, 28), 10, tuple("0123456789"))), "step")
    ax = fig.axes[0]
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    lines = {line.get_label(): line for line in ax.get_lines()}
    mean = lines["cgan (3 seeds)"]
    assert list(mean.get_ydata()) == pytest.approx([51, 52, 53])
    lows = band.get_paths()[0].vertices[:, 1]
    assert lows.min() == pytest.approx(41) and lows.max() == pytest.approx(63)
    assert list(lines["gan"].get_ydata()) == pytest.approx([41, 42, 43])  # one run: its own line, no band
