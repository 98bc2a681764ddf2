"""Ctrl-C, SIGTERM and SIGKILL at any moment: the run folder stays loadable and resumes exactly."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganlab.checkpoints import load_checkpoint
from ganlab.runs import RunFolder

STEPS = 120


def ganlab(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "ganlab", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def train_args(data, out):
    return ["run", "--variant", "cgan", "--data", data, "--steps", STEPS, "--batch-size", 16, "--seed", 4,
            "--device", "cpu", "--checkpoint-every", 25, "--sample-every", 25, "--log-every", 5,
            "--final-eval-samples", 0, "--out", out]


def final_weights(out):
    payload = load_checkpoint(RunFolder(out).latest_checkpoint())
    assert payload["step"] == STEPS
    return payload["generator"], payload["discriminator"]


@pytest.fixture(scope="module")
def uninterrupted(small_mnist_npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    process = ganlab(*train_args(small_mnist_npz, out))
    assert process.wait(timeout=300) == 0, process.stderr.read()
    return final_weights(out), (out / "losses.csv").read_text()


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(delay=st.floats(0.5, 8.0), signum=st.sampled_from([signal.SIGINT, signal.SIGTERM, signal.SIGKILL]))
def test_stopped_at_any_moment_then_resumed_gives_the_same_weights(uninterrupted, small_mnist_npz,
                                                                   tmp_path_factory, delay, signum):
    out = tmp_path_factory.mktemp("stopped") / "run"
    process = ganlab(*train_args(small_mnist_npz, out))
    time.sleep(delay)
    process.send_signal(signum)
    code = process.wait(timeout=120)
    stderr = process.stderr.read()
    if code == 0:  # it finished before the signal arrived
        return
    assert "Traceback" not in stderr
    folder = RunFolder(out)
    if not out.exists() or not folder.checkpoints():
        return  # stopped before the first checkpoint: there is nothing to resume, and nothing is broken
    load_checkpoint(folder.latest_checkpoint())  # the latest checkpoint is always whole
    if signum != signal.SIGKILL and "Stopped at step" in stderr:
        assert code == 130 and f"ganlab run --resume {out}" in stderr
    resumed = ganlab("run", "--resume", out, "--quiet")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    (want_g, want_d), want_losses = uninterrupted
    got_g, got_d = final_weights(out)
    assert all(torch.equal(want_g[k], got_g[k]) for k in want_g)
    assert all(torch.equal(want_d[k], got_d[k]) for k in want_d)
    assert (out / "losses.csv").read_text() == want_losses
