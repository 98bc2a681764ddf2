"""Settings are validated by name, in the config and on the command line."""
from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ganlab.cli import cli
from ganlab.config import RunConfig
from ganlab.errors import ConfigError

POSITIVE = ("steps", "batch_size", "latent_dim", "sample_every", "log_every")


INTEGERS = POSITIVE + ("checkpoint_every", "eval_every", "watchdog_steps")


def lowest(name):
    return 2 if name == "batch_size" else 1 if name in POSITIVE else 0


@settings(max_examples=60, deadline=1000)
@given(name=st.sampled_from(INTEGERS), value=st.integers(-1000, 1000))
@example(name="batch_size", value=1)  # the edges, tried every time: BatchNorm needs a batch of 2
@example(name="batch_size", value=2)
@example(name="steps", value=0)
@example(name="steps", value=1)
@example(name="checkpoint_every", value=-1)
@example(name="eval_every", value=0)
def test_integer_settings_are_accepted_in_range_and_refused_by_name_outside(name, value):
    config = RunConfig(**{name: value})
    low = lowest(name)
    if value >= low:
        config.validate()
    else:
        with pytest.raises(ConfigError, match=name):
            config.validate()


@settings(max_examples=30, deadline=1000)
@given(lr=st.floats(allow_nan=True, allow_infinity=True), beta1=st.floats(-2, 2))
@example(lr=float("inf"), beta1=0.5)  # the edges are tried every time, whatever hypothesis draws
@example(lr=float("nan"), beta1=0.5)
@example(lr=-float("inf"), beta1=0.5)
@example(lr=0.0, beta1=0.5)
@example(lr=1e-300, beta1=0.0)
@example(lr=2e-4, beta1=1.0)
@example(lr=2e-4, beta1=-0.0)
def test_optimizer_settings_are_checked(lr, beta1):
    config = RunConfig(lr=lr, beta1=beta1)
    if lr > 0 and math.isfinite(lr) and 0 <= beta1 < 1:
        config.validate()
    else:
        with pytest.raises(ConfigError):
            config.validate()


def test_unknown_keys_are_rejected_by_name():
    with pytest.raises(ConfigError, match="Unknown setting.*stepz"):
        RunConfig.from_dict({"stepz": 10})


def test_config_round_trips_through_json():
    config = RunConfig(variant="gan", steps=123, settings={"d_dropout": 0.3}, seed=9)
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


OPTIONS = {"--steps": 1, "--batch-size": 2, "--latent-dim": 1, "--sample-every": 1, "--log-every": 1,
           "--checkpoint-every": 0, "--eval-every": 0, "--watchdog-steps": 0, "--seed": 0}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(sorted(OPTIONS)), value=st.integers(-50, 6))
@example(option="--batch-size", value=1)  # the bounds, tried every time
@example(option="--batch-size", value=2)
@example(option="--steps", value=0)
@example(option="--checkpoint-every", value=-1)
def test_cli_options_in_range_train_and_out_of_range_name_the_option(option, value, small_mnist_npz, tmp_path):
    args = ["run", "--data", small_mnist_npz, "--steps", "2", "--batch-size", "4", "--final-eval-samples", "0",
            "--quiet", "--out", str(tmp_path / f"run{option}{value}"), option, str(value)]
    result = CliRunner().invoke(cli, args)
    if value >= OPTIONS[option]:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2 and f"'{option}'" in result.output
    assert "Traceback" not in result.output
