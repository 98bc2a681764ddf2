"""Training for real: the loop learns, is reproducible, and writes a complete run folder."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from ganlab.api import train
from ganlab.config import RunConfig
from ganlab.sampling import generate
from ganlab.training_run import prepare

from conftest import random_dataset


def quick_config(tmp_path, **changes):
    values = dict(steps=20, batch_size=16, seed=3, sample_every=10, checkpoint_every=10, log_every=5,
                  device="cpu", out=str(tmp_path / "run"))
    values.update(changes)
    return RunConfig(**values)


@pytest.mark.slow
def test_short_real_training_moves_discriminator_and_samples(mnist):
    """300 steps on real MNIST: samples move from tanh-noise toward MNIST's dark background."""
    config = RunConfig(variant="cgan", steps=300, seed=0, device="cpu", log_every=50)
    run = train(config, dataset=mnist, quiet=True, write_files=False)
    noise, labels = torch.randn(200, 100), torch.arange(200) % 10
    before = generate(train(RunConfig(variant="cgan", steps=1, seed=0, device="cpu"), dataset=mnist,
                            quiet=True, write_files=False).generator, noise, labels)
    after = generate(run.generator, noise, labels)
    real_mean = (mnist.x_train[:2000].astype(np.float32) / 127.5 - 1).mean()  # about -0.74
    assert abs(after.mean() - real_mean) < abs(before.mean() - real_mean) - 0.3
    first, last = run.records[:20], run.records[-50:]
    def d_acc(rows):
        return np.mean([(r["d_real_acc"] + r["d_fake_acc"]) / 2 for r in rows])

    assert d_acc(last) > d_acc(first) + 0.1  # D learned to tell MNIST from the untrained G
    assert all(np.isfinite([r["d_loss"], r["g_loss"]]).all() for r in run.records)


def test_two_cpu_runs_with_one_seed_give_bit_identical_weights():
    data = random_dataset(n=512)
    runs = [train(RunConfig(variant="cgan", steps=15, batch_size=8, seed=11, device="cpu"), dataset=data,
                  quiet=True, write_files=False) for _ in range(2)]
    for a, b in zip(runs[0].generator.state_dict().values(), runs[1].generator.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(runs[0].discriminator.state_dict().values(), runs[1].discriminator.state_dict().values()):
        assert torch.equal(a, b)
    other = train(RunConfig(variant="cgan", steps=15, batch_size=8, seed=12, device="cpu"), dataset=data,
                  quiet=True, write_files=False)
    assert not torch.equal(other.generator.network.layers[0].weight, runs[0].generator.network.layers[0].weight)


def test_run_folder_holds_config_losses_samples_and_checkpoints(tmp_path):
    run = train(quick_config(tmp_path), dataset=random_dataset(), quiet=True)
    folder = run.folder
    assert sorted(p.name for p in folder.samples_dir.iterdir()) == ["step_000010.png", "step_000020.png"]
    assert [p.name for p in folder.checkpoints()] == ["step_000010.pt", "step_000020.pt"]
    assert folder.final_grid_file.stat().st_size > 1000 and folder.loss_curve_file.exists()
    with open(folder.losses_file) as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == list(range(1, 21))
    assert set(rows[0]) == {"step", "d_loss", "g_loss", "d_real_acc", "d_fake_acc"}
    config, spec, saved = folder.read_config()
    assert config.seed == 3 and config.variant == "cgan" and spec.image_shape == (1, 28, 28)
    assert saved["versions"]["torch"] == torch.__version__ and saved["device"] == "cpu"
    payload = torch.load(folder.checkpoints()[-1], weights_only=True)
    assert payload["step"] == 20 and payload["variant"] == "cgan"
    assert not list(folder.path.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_separate_mode_makes_two_discriminator_updates_per_step():
    data = random_dataset()
    steps = {}
    for mode in ("joint", "separate"):
        run = train(RunConfig(steps=4, batch_size=8, seed=0, device="cpu", d_update=mode), dataset=data,
                    quiet=True, write_files=False)
        state = run.opt_d.state_dict()["state"]
        steps[mode] = int(next(iter(state.values()))["step"])
    assert steps == {"joint": 4, "separate": 8}


def test_auto_d_update_is_the_variants_choice():
    from ganlab.plugins import make_plugin_manager

    data = random_dataset()
    assert prepare(RunConfig(variant="cgan", seed=0), data.spec).config.d_update == "separate"
    pm = make_plugin_manager("gan")
    pm.unregister(name="gan")  # without the tutorial's plugin: the core's default
    assert pm.hook.ganlab_discriminator_update(config=RunConfig()) == "joint"


def test_generator_step_leaves_the_discriminator_unchanged():
    from ganlab.trainer import RealBatches, train_step
    from ganlab.training_run import prepare

    data = random_dataset()
    run = prepare(RunConfig(steps=1, batch_size=8, seed=0, device="cpu"), data.spec)
    batches = RealBatches(data, run.device)
    before = {k: v.clone() for k, v in run.discriminator.state_dict().items()}
    run.opt_d.step = lambda *a, **k: None  # freeze D's optimizer: only the G step could change D
    train_step(run, batches, d_steps=1)
    for key, value in run.discriminator.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.requires_grad for p in run.discriminator.parameters())
