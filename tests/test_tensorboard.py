"""The TensorBoard observer: what a run logs, read back with TensorBoard's own reader.

Needs the ``tensorboard`` package (``pip install -e ".[tensorboard]"``, which CI installs); without
it the tests that write events are skipped and say so, and the install hint is checked instead.
"""
from __future__ import annotations

import builtins
import csv
import dataclasses
import importlib.util
import json
from types import SimpleNamespace

import pytest
import torch

from ganlab.api import train
from ganlab.config import RunConfig
from ganlab.observers.tensorboard import TensorBoardLogger, TensorBoardMissing, flat_settings, tensorboard_observer
from ganlab.plugins import make_plugin_manager

from conftest import random_dataset

NEEDS_TENSORBOARD = 'the tensorboard package is not installed (pip install -e ".[tensorboard]")'
requires_tensorboard = pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason=NEEDS_TENSORBOARD)


def event_reader(log_dir):
    """TensorBoard's own reader over one run's event files, keeping every event."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    reader = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    reader.Reload()
    return reader


def hparams_of(reader) -> dict:
    """The settings the HPARAMS tab shows for this run."""
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    content = reader.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = HParamsPluginData.FromString(content).session_start_info
    return {name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
            for name, value in start.hparams.items()}


def train_with_tensorboard(tmp_path, dataset=None, **changes):
    settings = dict(variant="gan", steps=30, batch_size=16, log_every=10, sample_every=10, checkpoint_every=0,
                    final_eval_samples=0, seed=0, device="cpu", out=str(tmp_path / "run"))
    config = RunConfig(**{**settings, **changes})
    pm = make_plugin_manager(config.variant)
    pm.register(tensorboard_observer(), name="tensorboard")
    return train(config, dataset=dataset or random_dataset(n=128), pm=pm, quiet=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short run with the observer registered, and TensorBoard's reader over its events."""
    run = train_with_tensorboard(tmp_path_factory.mktemp("tb"))
    return run, event_reader(run.folder.path / "tensorboard")


@requires_tensorboard
def test_losses_and_d_accuracies_match_losses_csv_step_for_step(trained):
    run, reader = trained
    with open(run.folder.losses_file, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30
    for column in ("d_loss", "g_loss", "d_real_acc", "d_fake_acc"):
        events = reader.Scalars(f"train/{column}")
        assert [event.step for event in events] == [int(row["step"]) for row in rows]
        # losses.csv keeps 6 significant digits, TensorBoard a float32.
        assert [event.value for event in events] == pytest.approx([float(row[column]) for row in rows],
                                                                  rel=1e-5, abs=1e-6)


@requires_tensorboard
def test_sample_grids_are_images_at_their_steps(trained):
    _, reader = trained
    assert [event.step for event in reader.Images("samples/progress")] == [10, 20, 30]
    final = reader.Images("samples/final_grid")
    assert [event.step for event in final] == [30]
    # The unconditional final grid, as in the run folder's grids: 100 images of 28x28, 10 a row, 2-pixel gaps.
    assert (final[0].width, final[0].height) == (10 * 30 - 2, 10 * 30)
    assert final[0].encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"


@requires_tensorboard
def test_the_runs_settings_are_hparams(trained):
    run, reader = trained
    settings = hparams_of(reader)
    assert settings["variant"] == "gan"
    assert settings["steps"] == 30 and settings["seed"] == 0
    assert settings["lr"] == pytest.approx(run.config.lr) and settings["beta1"] == pytest.approx(0.5)
    assert settings["d_update"] == "separate"  # the value the variant chose, not "auto"
    assert "_hparams_/session_end_info" in reader.PluginTagToContent("hparams"), "a finished run says so"


@requires_tensorboard
def test_every_number_in_a_record_is_logged_plugin_terms_included(tmp_path):
    logger = tensorboard_observer(tmp_path)
    run = SimpleNamespace(folder=None, step=0, config=RunConfig(seed=1, settings={"gp_weight": 10.0}))
    logger.ganlab_train_start(run=run)
    records = [{"step": 1, "d_loss": 0.7, "g_loss": 0.6, "d_real_acc": 0.5, "d_fake_acc": 0.5,
                "acgan_class_loss": 2.25, "note": "not a number"}]
    logger.ganlab_step_end(run=run, step=1, records=records)
    logger.ganlab_train_end(run=run, outcome="finished")
    reader = event_reader(tmp_path)
    assert [(e.step, e.value) for e in reader.Scalars("train/acgan_class_loss")] == [(1, 2.25)]
    assert "train/note" not in reader.Tags()["scalars"] and "train/step" not in reader.Tags()["scalars"]
    assert hparams_of(reader)["settings.gp_weight"] == 10.0


@requires_tensorboard
def test_evaluation_metrics_are_logged_numbers_only(tmp_path):
    logger = tensorboard_observer(tmp_path)
    run = SimpleNamespace(folder=None, step=0, config=RunConfig(seed=1))
    logger.ganlab_train_start(run=run)
    metrics = {"fd": 58.8, "classes_covered": 10, "conditional_accuracy": None, "conditional_accuracy_per_class":
               [0.9] * 10, "dataset": "mnist"}  # what ganlab.metrics.evaluate returns, in kind
    logger.ganlab_evaluated(run=run, step=200, metrics=metrics)
    logger.ganlab_train_end(run=run, outcome="finished")
    reader = event_reader(tmp_path)
    assert sorted(reader.Tags()["scalars"]) == ["eval/classes_covered", "eval/fd"]
    assert reader.Scalars("eval/fd")[0].step == 200
    assert reader.Scalars("eval/fd")[0].value == pytest.approx(58.8)


@requires_tensorboard
def test_each_evaluation_of_a_real_run_is_logged(tmp_path, mnist):
    small = dataclasses.replace(mnist, x_train=mnist.x_train[:2000], y_train=mnist.y_train[:2000],
                                x_test=mnist.x_test[:500], y_test=mnist.y_test[:500])  # MNIST's classifier, cheaply
    # One evaluation during training (metrics.csv), one final (metrics.json): both at step 20.
    run = train_with_tensorboard(tmp_path, dataset=small, steps=20, eval_every=20, eval_samples=100,
                                 final_eval_samples=200)
    events = event_reader(run.folder.path / "tensorboard").Scalars("eval/fd")
    assert [event.step for event in events] == [20, 20]
    with open(run.folder.metrics_csv_file, newline="") as handle:
        during = float(next(csv.DictReader(handle))["fd"])
    final = json.loads(run.folder.metrics_file.read_text())["fd"]
    assert [event.value for event in events] == pytest.approx([during, final], rel=1e-5)


@requires_tensorboard
def test_points_not_pictures_are_logged_as_the_saved_figure(tmp_path):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 2), dpi=50)
    figure.add_subplot().scatter([0, 1], [1, 0])
    figure.savefig(tmp_path / "step_000100.png")
    logger = tensorboard_observer(tmp_path / "events")
    run = SimpleNamespace(folder=None, step=0, config=RunConfig(seed=1))
    logger.ganlab_train_start(run=run)
    logger.ganlab_samples_made(run=run, step=100, images=torch.zeros(500, 2), labels=torch.zeros(500),
                               path=tmp_path / "step_000100.png")  # 2-D points, as toy data gives
    logger.ganlab_train_end(run=run, outcome="finished")
    [image] = event_reader(tmp_path / "events").Images("samples/progress")
    assert (image.step, image.width, image.height) == (100, 100, 100)


@requires_tensorboard
def test_a_resumed_run_purges_what_an_earlier_session_logged_after_the_checkpoint(tmp_path):
    config = RunConfig(seed=1)
    for session, (start, stop) in enumerate([(0, 30), (20, 25)]):  # crashed at 30; resumed from step 20
        logger = tensorboard_observer(tmp_path)
        run = SimpleNamespace(folder=None, step=start, config=config)
        logger.ganlab_train_start(run=run)
        records = [{"step": s, "d_loss": float(session)} for s in range(start + 1, stop + 1)]
        logger.ganlab_step_end(run=run, step=stop, records=records)
        logger.ganlab_train_end(run=run, outcome="finished")
    events = event_reader(tmp_path).Scalars("train/d_loss")
    assert [e.step for e in events] == list(range(1, 26))
    assert [e.value for e in events] == [0.0] * 20 + [1.0] * 5


def test_without_tensorboard_the_error_says_how_to_install_it(monkeypatch):
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith(("tensorboard", "torch.utils.tensorboard")):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(TensorBoardMissing, match=r'pip install "ganlab\[tensorboard\]"') as caught:
        TensorBoardLogger()
    assert "\n" not in str(caught.value), "one paragraph"


@requires_tensorboard
def test_a_run_without_a_folder_and_no_log_dir_is_refused_by_name():
    with pytest.raises(Exception, match="needs a folder to write to"):
        TensorBoardLogger().ganlab_train_start(run=SimpleNamespace(folder=None, step=0, config=RunConfig()))


def test_settings_become_flat_hparams():
    assert flat_settings({"lr": 2e-4, "seed": None, "plugin_files": ["a.py"], "settings": {"k": 1},
                          "flag": True}) == {"lr": 2e-4, "plugin_files": '["a.py"]', "settings.k": 1, "flag": "true"}
