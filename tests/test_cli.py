"""Every CLI command through click's CliRunner, and the README's main command as a real subprocess."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from ganlab.cli import cli


@pytest.fixture(scope="module")
def trained_runs(small_mnist_npz, tmp_path_factory):
    """A tiny cgan and gan run, trained once through the CLI."""
    base = tmp_path_factory.mktemp("runs")
    runs = {}
    for variant in ("cgan", "gan"):
        out = base / variant
        result = CliRunner().invoke(cli, ["run", "--variant", variant, "--data", small_mnist_npz, "--steps", "12",
                                          "--sample-every", "6", "--checkpoint-every", "6", "--log-every", "4",
                                          "--seed", "1", "--device", "cpu", "--final-eval-samples", "0",
                                          "--out", str(out)])
        assert result.exit_code == 0, result.output
        runs[variant] = out
    return runs


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_run_writes_a_complete_run_folder(trained_runs):
    out = trained_runs["cgan"]
    for name in ("config.json", "losses.csv", "loss_curve.png", "final_grid.png",
                 "samples/step_000006.png", "samples/step_000012.png", "checkpoints/step_000012.pt"):
        assert (out / name).is_file(), name


def test_sample_png_grid(trained_runs, tmp_path):
    result = invoke("sample", trained_runs["cgan"], "--out", tmp_path / "grid.png", "--per-class", "3")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Wrote 30 samples" in result.output


def test_sample_npz_conditional_holds_uint8_images_and_labels(trained_runs, tmp_path):
    result = invoke("sample", trained_runs["cgan"], "--out", tmp_path / "s.npz", "--n", "12", "--label", "7")
    assert result.exit_code == 0, result.output
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["images"].shape == (12, 28, 28) and arrays["images"].dtype == np.uint8
    assert arrays["labels"].dtype == np.int64 and set(arrays["labels"]) == {7}


def test_sample_npz_unconditional_has_no_labels(trained_runs, tmp_path):
    result = invoke("sample", trained_runs["gan"], "--out", tmp_path / "s.npz", "--n", "5")
    assert result.exit_code == 0, result.output
    assert set(np.load(tmp_path / "s.npz").files) == {"images"}


def test_sample_same_seed_same_images(trained_runs, tmp_path):
    for name in ("a", "b"):
        invoke("sample", trained_runs["cgan"], "--out", tmp_path / f"{name}.npz", "--n", "4", "--seed", "5")
    assert np.array_equal(np.load(tmp_path / "a.npz")["images"], np.load(tmp_path / "b.npz")["images"])


def test_label_on_an_unconditional_run_is_a_clear_error(trained_runs, tmp_path):
    result = invoke("sample", trained_runs["gan"], "--out", tmp_path / "x.png", "--label", "3")
    assert result.exit_code != 0
    assert "unconditional" in result.output and "Traceback" not in result.output


def test_sample_from_a_folder_that_is_not_a_run(tmp_path):
    result = invoke("sample", tmp_path, "--out", tmp_path / "x.png")
    assert result.exit_code == 1 and "not a ganlab run folder" in result.output


def test_checkpoint_from_another_variant_is_refused(trained_runs, tmp_path):
    other = trained_runs["gan"] / "checkpoints" / "step_000012.pt"
    result = invoke("sample", trained_runs["cgan"], "--out", tmp_path / "x.png", "--checkpoint", other)
    assert result.exit_code == 1 and 'trained with variant "gan", but this run folder\'s config.json says "cgan"' \
        in result.output


def test_variants_lists_builtins_with_their_origin():
    result = invoke("variants", "--verbose")
    assert result.exit_code == 0
    assert "cgan" in result.output and "ganlab_plugins.cgan" in result.output
    assert "--set d_dropout=0.4" in result.output


@pytest.mark.parametrize("args, message", [
    (["--variant", "nope"], 'Unknown variant "nope"'),
    (["--steps", "-5"], "'--steps': -5 is not in the range x>=1"),
    (["--batch-size", "1"], "'--batch-size': 1 is not in the range x>=2"),
    (["--set", "d_dropout=lots"], 'Setting "d_dropout" must be a float'),
    (["--set", "nonsense"], "is not NAME=VALUE"),
])
def test_bad_run_options_give_one_clear_message(args, message, small_mnist_npz):
    result = invoke("run", "--data", small_mnist_npz, "--steps", "2", *args)
    assert result.exit_code != 0 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_unwritable_out_is_a_clear_error(small_mnist_npz, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("run", "--data", small_mnist_npz, "--steps", "2", "--out", blocker / "run")
    assert result.exit_code == 1 and "Cannot write the run folder" in result.output


def test_corrupt_data_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not a zip file")
    result = invoke("run", "--data", bad, "--steps", "2", "--out", tmp_path / "run")
    assert result.exit_code == 1 and str(bad) in result.output and "Traceback" not in result.output


def test_readme_main_command_runs_as_a_subprocess(mnist, tmp_path):
    """`ganlab run --variant cgan` exactly as the README gives it (MNIST from the cache), small --steps."""
    ganlab = shutil.which("ganlab", path=os.path.dirname(sys.executable)) or shutil.which("ganlab")
    command = [ganlab] if ganlab else [sys.executable, "-m", "ganlab"]
    result = subprocess.run(
        command + ["run", "--variant", "cgan", "--steps", "30", "--final-eval-samples", "500",
                   "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert result.returncode == 0, result.stderr
    assert "Training finished at step 30" in result.stdout
    assert (tmp_path / "run" / "checkpoints" / "step_000030.pt").exists()


def test_python_dash_m_ganlab_is_the_same_cli():
    result = subprocess.run([sys.executable, "-m", "ganlab", "variants"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "cgan" in result.stdout
