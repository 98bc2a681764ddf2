"""The built-in variants' networks: shapes for any batch and dataset, and conditioning that works."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganlab.config import RunConfig
from ganlab.data import DatasetSpec
from ganlab.errors import ConfigError
from ganlab.plugins import make_plugin_manager
from ganlab.training_run import prepare

MNIST = DatasetSpec("mnist", (1, 28, 28), 10, tuple("0123456789"))


def build(variant, spec=MNIST, seed=0, **settings):
    return prepare(RunConfig(variant=variant, seed=seed, device="cpu"), spec,
                   make_plugin_manager(variant), overrides=settings)


@pytest.mark.parametrize("variant", ["gan", "cgan"])
@settings(max_examples=15, deadline=2000)
@given(batch=st.integers(1, 70), label=st.integers(0, 9))
def test_generator_and_discriminator_shapes(variant, batch, label):
    run = build(variant)
    run.generator.eval()  # BatchNorm in train mode cannot take a batch of 1
    labels = torch.full((batch,), label)
    images = run.generator(torch.randn(batch, 100), labels)
    assert images.shape == (batch, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1
    assert run.discriminator(images, labels).shape == (batch,)


@settings(max_examples=8, deadline=4000)
@given(channels=st.sampled_from([1, 3]), size=st.sampled_from([8, 28, 32]), classes=st.integers(2, 12))
def test_networks_follow_the_dataset_shape(channels, size, classes):
    spec = DatasetSpec("any", (channels, size, size), classes, tuple(map(str, range(classes))))
    run = build("cgan", spec)
    labels = torch.arange(4) % classes
    images = run.generator(torch.randn(4, 100), labels)
    assert images.shape == (4, channels, size, size)
    assert run.discriminator(images, labels).shape == (4,)


def test_cgan_generator_output_depends_on_the_label():
    run = build("cgan")
    run.generator.eval()
    noise = torch.randn(1, 100).repeat(10, 1)  # one noise vector, ten labels
    images = run.generator(noise, torch.arange(10))
    assert not torch.allclose(images[0], images[1])
    assert (images - images[0]).abs().flatten(1).max(1).values[1:].min() > 1e-4


def test_cgan_discriminator_score_depends_on_the_label():
    run = build("cgan")
    run.discriminator.eval()
    image = torch.rand(1, 1, 28, 28).repeat(10, 1, 1, 1) * 2 - 1
    scores = run.discriminator(image, torch.arange(10))
    assert scores.unique().numel() == 10


def test_plain_gan_ignores_the_label():
    run = build("gan")
    run.generator.eval(), run.discriminator.eval()
    noise = torch.randn(1, 100).repeat(10, 1)
    images = run.generator(noise, torch.arange(10))
    assert torch.allclose(images, images[:1].expand_as(images), atol=1e-6)
    assert not run.conditional and build("cgan").conditional


def test_keras_initialisation_is_glorot_uniform_with_zero_bias():
    run = build("cgan")
    first = run.generator.network.layers[0]
    bound = (6 / (first.in_features + first.out_features)) ** 0.5
    assert first.weight.abs().max() <= bound and first.weight.abs().max() > 0.9 * bound
    assert torch.count_nonzero(first.bias) == 0
    embedding = run.generator.conditioning.embedding.weight
    assert embedding.abs().max() <= 0.05


def test_torch_initialisation_setting_keeps_pytorch_defaults():
    first = build("cgan", init="torch").generator.network.layers[0]
    assert torch.count_nonzero(first.bias) > 0  # PyTorch's default bias is uniform, not zero


def test_batchnorm_momentum_matches_keras():
    """Keras's momentum=0.8 is PyTorch's momentum=0.2; Keras's epsilon is 1e-3."""
    norms = [m for m in build("gan").generator.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(norms) == 3
    assert all(m.momentum == pytest.approx(0.2) and m.eps == pytest.approx(1e-3) for m in norms)


# Every variant built on the plain GAN's MLPs reads the settings those MLPs declare.
MLP_VARIANTS = ["gan", "cgan", "acgan", "projection", "infogan", "wgan-gp"]


def layers_of(module, kind):
    return [m for m in module.modules() if isinstance(m, kind)]


@pytest.mark.parametrize("variant", MLP_VARIANTS)
def test_the_mlp_defaults_are_the_tutorials_leaky_relu_in_d_and_keras_batchnorm_momentum_in_g(variant):
    run = build(variant)
    assert layers_of(run.discriminator, torch.nn.LeakyReLU) and not layers_of(run.discriminator, torch.nn.ReLU)
    assert all(m.negative_slope == pytest.approx(0.2) for m in layers_of(run.discriminator, torch.nn.LeakyReLU))
    norms = layers_of(run.generator, torch.nn.BatchNorm1d)
    assert len(norms) == 3 and all(m.momentum == pytest.approx(0.2) for m in norms)


@pytest.mark.parametrize("variant", MLP_VARIANTS)
def test_d_activation_relu_replaces_every_leaky_relu_in_d_and_none_in_g(variant):
    run = build(variant, d_activation="relu")
    assert len(layers_of(run.discriminator, torch.nn.ReLU)) == 3
    assert not layers_of(run.discriminator, torch.nn.LeakyReLU)
    assert len(layers_of(run.generator, torch.nn.LeakyReLU)) == 3  # G keeps the tutorial's LeakyReLU


@pytest.mark.parametrize("variant", MLP_VARIANTS)
def test_g_bn_momentum_sets_the_momentum_of_every_batchnorm_in_g(variant):
    norms = layers_of(build(variant, g_bn_momentum="0.1").generator, torch.nn.BatchNorm1d)
    assert len(norms) == 3 and all(m.momentum == pytest.approx(0.1) and m.eps == pytest.approx(1e-3)
                                   for m in norms)


def test_the_new_settings_leave_the_default_networks_bit_for_bit_unchanged():
    """Same seed, default settings spelled out or not: the same initial weights (no extra random draw)."""
    plain = build("cgan")
    spelled = build("cgan", d_activation="leaky_relu", g_bn_momentum=0.2, d_dropout=0.4, init="keras")
    for net in ("generator", "discriminator"):
        for (name, a), (_, b) in zip(getattr(plain, net).state_dict().items(),
                                     getattr(spelled, net).state_dict().items()):
            assert torch.equal(a, b), f"{net}.{name}"


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("d_activation", "tanh", r'd_activation must be "leaky_relu" .* or "relu", not \'tanh\''),
    ("g_bn_momentum", "1.5", r"g_bn_momentum must be between 0 and 1 .* Keras momentum 0.8 is 0.2"),
])
def test_a_bad_value_of_a_new_setting_is_refused_with_the_choices(setting, value, message):
    with pytest.raises(ConfigError, match=message):
        build("cgan", **{setting: value})


def test_uniform_dropout_keeps_the_right_fraction_and_scales():
    from ganlab_plugins.gan import UniformDropout

    torch.manual_seed(0)
    drop = UniformDropout(0.4)
    out = drop(torch.ones(200_000))
    kept = out > 0
    assert kept.float().mean().item() == pytest.approx(0.6, abs=0.005)
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.6))
    assert torch.equal(drop.eval()(torch.ones(5)), torch.ones(5))


def test_default_losses_equal_binary_cross_entropy():
    import torch.nn.functional as F

    from ganlab import defaults

    logits = torch.randn(64) * 5
    assert torch.allclose(defaults.ganlab_discriminator_loss(logits, True),
                          F.binary_cross_entropy(torch.sigmoid(logits), torch.ones(64)), atol=1e-5)
    assert torch.allclose(defaults.ganlab_discriminator_loss(logits, False),
                          F.binary_cross_entropy(torch.sigmoid(logits), torch.zeros(64)), atol=1e-5)
    assert torch.allclose(defaults.ganlab_generator_loss(logits),
                          F.binary_cross_entropy(torch.sigmoid(logits), torch.ones(64)), atol=1e-5)
