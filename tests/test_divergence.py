"""Divergence stops a run with a useful message; the watchdog flags a discriminator that has won."""
from __future__ import annotations

import io

import pytest

from ganlab.api import train
from ganlab.checkpoints import load_checkpoint
from ganlab.config import RunConfig
from ganlab.errors import DivergenceError
from ganlab.observers.watchdog import DiscriminatorWatchdog
from ganlab.runs import RunFolder

from conftest import random_dataset

NAN_AFTER_7_STEPS = '''
"""Returns a NaN generator loss from the 8th step on (a test plugin)."""
import ganlab
import torch.nn.functional as F
from ganlab_plugins.cgan import *  # noqa: F401,F403  the cGAN, otherwise unchanged

calls = 0

@ganlab.hookimpl
def ganlab_generator_loss(scores):
    global calls
    calls += 1
    loss = F.softplus(-scores).mean()
    return loss * float("nan") if calls >= 8 else loss
'''


def test_nan_loss_stops_the_run_naming_step_and_last_good_checkpoint(tmp_path):
    plugin = tmp_path / "nanplugin.py"
    plugin.write_text(NAN_AFTER_7_STEPS)
    config = RunConfig(variant="nanplugin", plugin_files=[str(plugin)], steps=30, batch_size=8, seed=0,
                       device="cpu", log_every=5, checkpoint_every=5, sample_every=5, out=str(tmp_path / "run"))
    with pytest.raises(DivergenceError) as error:
        train(config, dataset=random_dataset(), quiet=True)
    message = str(error.value)
    assert "diverged at step 8" in message and "step_000005.pt" in message and "--lr" in message
    folder = RunFolder(tmp_path / "run")
    assert [p.name for p in folder.checkpoints()] == ["step_000005.pt"]  # nothing broken was saved
    assert load_checkpoint(folder.checkpoints()[-1])["step"] == 5


class FakeRun:
    """The part of a RunView the watchdog uses: the run folder and the progress line's notes."""

    def __init__(self, path):
        self.folder, self.notes = RunFolder(path), []

    def note(self, text):
        self.notes.append(text)


def fake_run(tmp_path):
    return FakeRun(tmp_path)


def records(start, count, accuracy):
    return [dict(step=start + i, d_loss=0.0, g_loss=9.0, d_real_acc=accuracy, d_fake_acc=accuracy)
            for i in range(count)]


def test_watchdog_warns_once_after_a_long_near_perfect_stretch(tmp_path):
    stream = io.StringIO()
    dog, run = DiscriminatorWatchdog(patience=50, stream=stream), fake_run(tmp_path)
    dog.ganlab_step_end(run, 49, records(1, 49, 1.0))
    assert stream.getvalue() == "" and run.notes == []
    dog.ganlab_step_end(run, 100, records(50, 51, 1.0))
    assert "at step 50 the discriminator has been near-perfect" in stream.getvalue()
    assert run.notes == ["D near-perfect"]
    assert "near-perfect" in (tmp_path / "events.log").read_text()
    dog.ganlab_step_end(run, 200, records(101, 100, 1.0))
    assert stream.getvalue().count("warning") == 1


def test_watchdog_streak_resets_when_the_generator_fools_d_again(tmp_path):
    stream = io.StringIO()
    dog, run = DiscriminatorWatchdog(patience=50, stream=stream), fake_run(tmp_path)
    for start in range(1, 400, 40):
        dog.ganlab_step_end(run, start + 39, records(start, 39, 1.0) + records(start + 39, 1, 0.6))
    assert stream.getvalue() == ""
