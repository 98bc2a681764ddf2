"""The speed-ups never change the algorithm: the trainer matches a plain reference loop."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from ganlab.config import RunConfig
from ganlab.data import to_unit_range
from ganlab.trainer import RealBatches, train_step
from ganlab.training_run import prepare

from conftest import random_dataset

ROOT = Path(__file__).resolve().parents[1]
STEPS = 10


def assert_same_weights(fast, plain):
    """Equal up to float reordering. Adam divides by sqrt(v) + eps, so where a gradient is ~0 a
    rounding difference can move one weight by up to lr; a changed algorithm moves nearly all of them
    by ~lr. So: the mean difference must stay far below lr (2e-4), and no weight may differ by more."""
    for net in ("generator", "discriminator"):
        a, b = dict(getattr(fast, net).named_parameters()), dict(getattr(plain, net).named_parameters())
        for key in a:
            difference = (a[key] - b[key]).detach().abs()
            assert difference.mean() < 1e-6 and difference.max() < 2e-4, f"{net}.{key}: {difference.max()}"
        a, b = dict(getattr(fast, net).named_buffers()), dict(getattr(plain, net).named_buffers())
        for key in a:  # BatchNorm's running statistics
            assert torch.allclose(a[key].float(), b[key].float(), rtol=1e-3, atol=1e-6), f"{net}.{key}"


def draw_batches(G, images, labels, config, num_classes):
    """A real batch by random indices, then noise, fresh labels and G's fakes: the trainer's draw order."""
    index = torch.randint(0, len(labels), (config.batch_size,))
    real, real_labels = to_unit_range(images[index]), labels[index]
    noise = torch.randn(config.batch_size, config.latent_dim)
    fake_labels = torch.randint(0, num_classes, (config.batch_size,))
    return real, real_labels, G(noise, fake_labels), fake_labels


def reference_step(G, D, opt_g, opt_d, images, labels, config, num_classes):
    """One step written the plain way: target tensors, BCE, D's real + fake loss, a for-loop Adam."""
    real, real_labels, fake, fake_labels = draw_batches(G, images, labels, config, num_classes)
    ones, zeros = torch.ones(config.batch_size), torch.zeros(config.batch_size)

    opt_d.zero_grad()
    d_loss = (F.binary_cross_entropy_with_logits(D(real, real_labels), ones)
              + F.binary_cross_entropy_with_logits(D(fake.detach(), fake_labels), zeros))
    d_loss.backward()
    opt_d.step()

    opt_g.zero_grad()
    g_loss = F.binary_cross_entropy_with_logits(D(fake, fake_labels), ones)
    g_loss.backward()
    opt_g.step()


def compare_with_reference(d_update, reference):
    """Train STEPS steps with the trainer and with ``reference``, from the same seeds."""
    data = random_dataset(n=400)
    config = RunConfig(variant="cgan", batch_size=16, seed=7, device="cpu", d_update=d_update)
    fast, plain = prepare(config, data.spec), prepare(RunConfig(variant="cgan", batch_size=16, seed=7), data.spec)
    # The plain loop uses Adam without fused kernels: the same arithmetic, summed in another order.
    opt_g = torch.optim.Adam(plain.generator.parameters(), lr=2e-4, betas=(0.5, 0.999), foreach=False)
    opt_d = torch.optim.Adam(plain.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999), foreach=False)
    images, labels = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    torch.manual_seed(123)
    batches = RealBatches(data, fast.device)
    for _ in range(STEPS):
        train_step(fast, batches, d_steps=1)
    torch.manual_seed(123)
    for _ in range(STEPS):
        reference(plain.generator, plain.discriminator, opt_g, opt_d, images, labels, config, 10)
    assert_same_weights(fast, plain)


def test_trainer_and_plain_reference_loop_reach_the_same_weights():
    compare_with_reference("joint", reference_step)


def reference_separate_step(G, D, opt_g, opt_d, images, labels, config, num_classes):
    """The tutorial's step: D.train_on_batch(real), D.train_on_batch(fake), then the G step."""
    real, real_labels, fake, fake_labels = draw_batches(G, images, labels, config, num_classes)
    ones, zeros = torch.ones(config.batch_size), torch.zeros(config.batch_size)
    for images_, labels_, target in ((real, real_labels, ones), (fake.detach(), fake_labels, zeros)):
        opt_d.zero_grad()
        F.binary_cross_entropy_with_logits(D(images_, labels_), target).backward()
        opt_d.step()
    opt_g.zero_grad()
    F.binary_cross_entropy_with_logits(D(fake, fake_labels), ones).backward()
    opt_g.step()


def test_trainer_separate_mode_matches_the_tutorials_two_discriminator_steps():
    compare_with_reference("separate", reference_separate_step)


def test_benchmark_script_emits_well_formed_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_speed.py"), "--variants", "cgan", "--batch-sizes", "8",
         "--steps", "4", "--warmup", "1", "--rounds", "2", "--profile", "--json", str(out)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())
    assert len(rows) == 1
    row = rows[0]
    for field in ("variant", "batch_size", "device", "ms_per_step_median", "ms_per_step_min", "ms_per_step_max",
                  "steps_per_s", "roofline_ms", "ratio_to_roofline", "baseline_ms_per_step_median",
                  "peak_rss_mb"):
        assert field in row, field
    assert row["variant"] == "cgan" and row["batch_size"] == 8 and row["device"] == "cpu"
    assert 0 < row["ms_per_step_min"] <= row["ms_per_step_median"] <= row["ms_per_step_max"]
    assert row["roofline_ms"] > 0 and row["ratio_to_roofline"] > 0 and row["peak_rss_mb"] > 50
    assert row["baseline_ms_per_step_median"] > 0 and row["d_update"] == "separate"
    assert row["roofline_memory_ms"] > 0 and row["roofline_serial_ms"] > row["roofline_ms"]
    profile = row["profile"]["ms_per_step_by_category"]
    assert profile["matrix products"] > 0 and profile["optimizer"] > 0  # the step's mm and Adam were seen
    assert "ms/step" in result.stdout and "where a step's" in result.stdout  # the table and the breakdown
