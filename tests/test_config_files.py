"""`ganlab run --config FILE`: a TOML file or a run's own config.json; options given override it."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from ganlab.checkpoints import load_checkpoint
from ganlab.cli import cli
from ganlab.config import load_config_file
from ganlab.errors import ConfigError
from ganlab.runs import RunFolder


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def saved_config(out):
    return json.loads((out / "config.json").read_text())["config"]


def final_weights(out):
    payload = load_checkpoint(RunFolder(out).checkpoints()[-1])
    return payload["generator"], payload["discriminator"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, small_mnist_npz):
    out = tmp_path_factory.mktemp("config") / "first"
    result = invoke("run", "--variant", "gan", "--data", small_mnist_npz, "--steps", 8, "--batch-size", 8,
                    "--seed", 3, "--beta1", 0.6, "--set", "d_dropout=0.3", "--final-eval-samples", 0, "--quiet",
                    "--device", "cpu", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_a_runs_config_json_repeats_it_to_the_bit(first_run, tmp_path):
    result = invoke("run", "--config", first_run / "config.json", "--out", tmp_path / "again", "--quiet")
    assert result.exit_code == 0, result.output
    for a, b in zip(final_weights(first_run), final_weights(tmp_path / "again")):
        assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    assert saved_config(tmp_path / "again") == {**saved_config(first_run), "out": str(tmp_path / "again")}


def test_options_on_the_command_line_override_the_file(first_run, tmp_path):
    result = invoke("run", "--config", first_run / "config.json", "--seed", 1, "--set", "init=torch",
                    "--out", tmp_path / "other-seed", "--quiet")
    assert result.exit_code == 0, result.output
    saved = saved_config(tmp_path / "other-seed")
    assert saved["seed"] == 1 and saved["beta1"] == 0.6 and saved["variant"] == "gan"
    assert saved["settings"] == {"d_dropout": 0.3, "init": "torch"}  # the file's --set, merged with ours


def test_a_toml_file_with_plugin_settings(tmp_path, small_mnist_npz):
    toml = tmp_path / "run.toml"
    toml.write_text(f'variant = "wgan-gp"\nsteps = 2\nbatch_size = 4\nseed = 5\nbeta2 = 0.99\n'
                    f'final_eval_samples = 0\ndata_path = "{small_mnist_npz}"\n\n[settings]\ngp_weight = 5.0\n')
    result = invoke("run", "--config", toml, "--out", tmp_path / "run", "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output
    saved = saved_config(tmp_path / "run")
    assert saved["variant"] == "wgan-gp" and saved["beta2"] == 0.99 and saved["settings"]["gp_weight"] == 5.0


def test_unknown_keys_in_a_config_file_are_refused_by_name(tmp_path):
    toml = tmp_path / "typo.toml"
    toml.write_text("variant = 'gan'\nstepz = 10\n")
    with pytest.raises(ConfigError, match=r"stepz \(did you mean steps\?\) in .*typo.toml"):
        load_config_file(toml)
    result = invoke("run", "--config", toml)
    assert result.exit_code == 2 and "stepz (did you mean steps?)" in result.output


def test_a_broken_config_file_is_a_clean_error(tmp_path):
    for name, text in (("bad.toml", "steps = = 3"), ("bad.json", "{nope"), ("list.json", "[1, 2]")):
        (tmp_path / name).write_text(text)
        result = invoke("run", "--config", tmp_path / name)
        assert result.exit_code == 2 and "Traceback" not in result.output and name in result.output


def test_config_cannot_be_given_with_resume(first_run):
    result = invoke("run", "--resume", first_run, "--config", first_run / "config.json")
    assert result.exit_code == 2 and "--config" in result.output


def test_adam_betas_and_the_discriminators_rate_are_options_and_reach_the_optimizers(tmp_path, small_mnist_npz):
    result = invoke("run", "--variant", "gan", "--data", small_mnist_npz, "--steps", 1, "--batch-size", 4,
                    "--beta1", 0.9, "--beta2", 0.95, "--lr", 1e-3, "--d-lr", 3e-4, "--final-eval-samples", 0,
                    "--quiet", "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    checkpoint = load_checkpoint(RunFolder(tmp_path / "r").checkpoints()[-1])
    g_group, d_group = checkpoint["opt_g"]["param_groups"][0], checkpoint["opt_d"]["param_groups"][0]
    assert g_group["betas"] == d_group["betas"] == (0.9, 0.95)
    assert (g_group["lr"], d_group["lr"]) == (1e-3, 3e-4)
    bad = invoke("run", "--beta1", 1.0)
    assert bad.exit_code == 2 and "--beta1" in bad.output
