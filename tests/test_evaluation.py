"""`ganlab eval`, `--eval-every` and `ganlab compare` on short real runs."""
from __future__ import annotations

import csv
import json
import re

import pytest
from click.testing import CliRunner

from ganlab.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def evaluated_runs(small_mnist_npz, tmp_path_factory):
    base = tmp_path_factory.mktemp("evaluated")
    runs = {}
    for variant in ("gan", "cgan"):
        out = base / variant
        result = invoke("run", "--variant", variant, "--data", small_mnist_npz, "--steps", 40, "--seed", 0,
                        "--device", "cpu", "--log-every", 10, "--eval-every", 20, "--eval-samples", 200,
                        "--final-eval-samples", 300, "--quiet", "--out", out)
        assert result.exit_code == 0, result.output
        runs[variant] = out
    return runs


def test_run_with_eval_every_writes_metric_curves_and_final_metrics(evaluated_runs):
    out = evaluated_runs["cgan"]
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [20, 40]
    assert all(float(r["seconds"]) > 0 for r in rows) and rows[0]["conditional_accuracy"] != ""
    assert (out / "metrics.png").stat().st_size > 1000
    final = json.loads((out / "metrics.json").read_text())
    assert final["step"] == 40 and final["n_samples"] == 300 and 0 <= final["conditional_accuracy"] <= 1


def test_unconditional_run_has_no_conditional_accuracy(evaluated_runs):
    final = json.loads((evaluated_runs["gan"] / "metrics.json").read_text())
    assert "conditional_accuracy" not in final and final["classes_covered"] >= 1


def test_eval_prints_a_table_and_writes_metrics_json(evaluated_runs):
    out = evaluated_runs["cgan"]
    (out / "metrics.json").unlink()
    result = invoke("eval", out, "--n", 250)
    assert result.exit_code == 0, result.output
    assert "conditional accuracy" in result.output and "FD (MNIST-CNN)" in result.output
    assert json.loads((out / "metrics.json").read_text())["n_samples"] == 250


def test_compare_writes_self_contained_html_and_png(evaluated_runs, tmp_path):
    result = invoke("compare", evaluated_runs["gan"], evaluated_runs["cgan"], "--out", tmp_path / "report")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "report" / "report.html").read_text()
    assert (tmp_path / "report" / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert len(re.findall(r"src='data:image/png;base64,", html)) >= 3  # grids, losses, metric curves
    assert not re.search(r"(src|href)=['\"](https?:|//)", html)  # opens offline: nothing to fetch
    for variant in ("gan", "cgan"):
        metrics = json.loads((evaluated_runs[variant] / "metrics.json").read_text())
        assert f"{metrics['fd']:.4g}" in html and f"{metrics['precision']:.4g}" in html
    assert "★" in html and "—" in html  # a winner is marked; gan has no conditional accuracy


def test_eval_of_a_dataset_without_classifier_says_it_cannot_be_measured_and_what_is_there(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8),
             y_train=(np.arange(40) % 2).astype(np.uint8))
    out = tmp_path / "run"
    assert invoke("run", "--dataset", "npz", "--data", tmp_path / "d.npz", "--steps", 2, "--batch-size", 4,
                  "--quiet", "--out", out).exit_code == 0
    result = invoke("eval", out, "--n", 10)
    assert result.exit_code == 1 and "ships one for mnist and fashion-mnist only, not for npz data" in result.output
    assert "sample grids, losses.csv and loss curve are in the run folder" in result.output


def test_evaluating_during_training_does_not_change_the_training(small_mnist_npz, tmp_path):
    import torch

    from ganlab.api import train
    from ganlab.config import RunConfig
    from ganlab.data import load_dataset
    from ganlab.evaluation import _shared_classifier

    _shared_classifier.cache_clear()  # so the evaluated run builds its classifier here, mid-training
    data = load_dataset("mnist", small_mnist_npz)
    runs = [train(RunConfig(steps=10, batch_size=8, seed=2, device="cpu", log_every=5, out=str(tmp_path / name),
                            eval_every=every, eval_samples=50, final_eval_samples=final), dataset=data, quiet=True)
            for name, every, final in (("plain", 0, 0), ("evaluated", 5, 60))]
    assert (tmp_path / "evaluated" / "metrics.json").exists()
    for a, b in zip(runs[0].generator.state_dict().values(), runs[1].generator.state_dict().values()):
        assert torch.equal(a, b)


def test_runs_evaluated_in_one_process_score_the_test_split_once(small_mnist_npz, monkeypatch):
    import torch

    from ganlab import metrics
    from ganlab.config import RunConfig
    from ganlab.data import load_dataset
    from ganlab.evaluation import evaluate_samples, shared_classifier
    from ganlab.plugins import make_plugin_manager
    from ganlab.training_run import prepare

    data = load_dataset("mnist", small_mnist_npz)
    assert shared_classifier("mnist", "cpu") is shared_classifier("mnist", torch.device("cpu"))
    scored = []
    original = metrics.features_and_predictions

    def counting(classifier, images, *args, **kwargs):
        scored.append(len(images))
        return original(classifier, images, *args, **kwargs)

    monkeypatch.setattr(metrics, "features_and_predictions", counting)
    for variant in ("gan", "cgan"):
        run = prepare(RunConfig(variant=variant, seed=0, device="cpu"), data.spec, make_plugin_manager(variant))
        evaluate_samples(run.sample, data, n=64, conditional=run.conditional, device="cpu")
    # The 500 test images at most once (not at all if an earlier test scored them), 64 samples per run.
    assert scored.count(500) <= 1 and scored.count(64) == 2, scored
