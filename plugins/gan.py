"""The plain, unconditional GAN of the tutorial's section 3.1: MLP generator and discriminator.

Goodfellow et al. (2014), "Generative Adversarial Nets", with the networks of the Keras cGAN tutorial
(itself Keras-GAN's ``cgan.py``). The losses are the core's defaults: binary cross-entropy for D and
the non-saturating ``-log D(G(z))`` for G.

Its building blocks (:class:`MLPGenerator`, :class:`MLPDiscriminator`, :func:`init_weights` and the
settings they read, :data:`SETTINGS`) are what ``cgan``, ``acgan``, ``projection``, ``wgan-gp`` and
``infogan`` reuse: plugins share modules and functions, never each other's hook implementations.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ganlab import hookimpl

# The settings the MLP networks read; every plugin that builds them declares the ones it reads.
INIT_SETTING = ("keras", "weight initialisation: keras (Glorot-uniform, zero bias) or torch")
DROPOUT_SETTING = (0.4, "dropout rate in the discriminator's last two hidden layers")
POINTS_WIDTH_SETTING = (128, "units in each of the two hidden layers of G and D when the samples are 2-D points")
SETTINGS = {"init": INIT_SETTING, "d_dropout": DROPOUT_SETTING, "points_width": POINTS_WIDTH_SETTING}

TUTORIAL_G_LAYERS = (256, 512, 1024)
TUTORIAL_D_LAYERS = (512, 512, 512)


def hidden_layers(spec, config, role: str) -> tuple[int, ...]:
    """The tutorial's hidden layers for images; for 2-D points two layers of ``points_width`` units.

    A 2-D toy distribution needs no 1024-unit layers: 128 units learn a ring of 8 modes in a few
    thousand steps, and a step costs a fraction of the tutorial-sized one (benchmarks/README.md).
    """
    if spec.sample_kind == "points":
        return (config.settings["points_width"],) * 2
    return TUTORIAL_G_LAYERS if role == "generator" else TUTORIAL_D_LAYERS


@hookimpl
def ganlab_settings():
    return SETTINGS


@hookimpl
def ganlab_discriminator_update():
    """The tutorial's two ``train_on_batch`` calls: an Adam step on the real batch, then on the fake.

    Measured for cgan at the tutorial's 20 000 steps (seed 0, 10 000 samples judged by the project's
    classifier): 92.2 % conditional accuracy this way, 90.9 % with one joint step.
    """
    return "separate"


@hookimpl
def ganlab_generator(spec, config, input_shape):
    return mlp_generator(spec, config, input_shape)


@hookimpl
def ganlab_discriminator(spec, config, input_shape):
    return mlp_discriminator(spec, config, input_shape)


def mlp_generator(spec, config, input_shape) -> MLPGenerator:
    """The plain GAN's generator for this data (the building block the MLP variants share)."""
    return MLPGenerator(math.prod(input_shape), spec.image_shape, config.settings["init"],
                        hidden_layers(spec, config, "generator"))


def mlp_discriminator(spec, config, input_shape, dropout: float | None = None) -> MLPDiscriminator:
    """The plain GAN's discriminator for this data; ``dropout`` overrides the ``d_dropout`` setting."""
    return MLPDiscriminator(math.prod(input_shape), config.settings["d_dropout"] if dropout is None else dropout,
                            config.settings["init"], hidden_layers(spec, config, "discriminator"))


class MLPGenerator(nn.Module):
    """noise (N, 100) -> 256 -> 512 -> 1024 -> C*H*W -> tanh -> sample (N, *sample_shape)."""

    def __init__(self, input_size: int, image_shape: tuple[int, ...], init: str = "keras",
                 hidden_layers: tuple[int, ...] = TUTORIAL_G_LAYERS):
        super().__init__()
        self.image_shape = tuple(image_shape)
        layers: list[nn.Module] = []
        width = input_size
        for hidden in hidden_layers:
            # Keras's BatchNormalization(momentum=0.8) keeps 0.8 of the old running mean; PyTorch's
            # momentum is the weight of the *new* batch, so it is 0.2 here. (The popular ports write
            # nn.BatchNorm1d(n, 0.8), which sets eps, not momentum.) Keras's epsilon is 1e-3.
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2), nn.BatchNorm1d(hidden, momentum=0.2, eps=1e-3)]
            width = hidden
        layers += [nn.Linear(width, math.prod(image_shape)), nn.Tanh()]
        self.layers = nn.Sequential(*layers)
        init_weights(self, init)

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.layers(inputs.flatten(1)).view(-1, *self.image_shape)


class MLPDiscriminator(nn.Module):
    """sample -> flatten -> 512 -> 512 -> 512 -> 1 logit (no sigmoid: the loss has it); dropout after
    every hidden layer but the first, as the tutorial's."""

    def __init__(self, input_size: int, dropout: float = 0.4, init: str = "keras",
                 hidden_layers: tuple[int, ...] = TUTORIAL_D_LAYERS):
        super().__init__()
        layers: list[nn.Module] = []
        width = input_size
        for index, hidden in enumerate(hidden_layers):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)] + ([UniformDropout(dropout)] if index else [])
            width = hidden
        self.layers = nn.Sequential(*layers, nn.Linear(width, 1))
        init_weights(self, init)

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.layers(inputs.flatten(1)).squeeze(1)


class UniformDropout(nn.Dropout):
    """``nn.Dropout``, with its mask drawn as ``uniform > p`` rather than by ``bernoulli_``.

    The same distribution (each unit kept with probability 1 - p, then scaled by 1 / (1 - p)); on a
    CPU the uniform draw costs about a third of ``bernoulli_``, and dropout runs three times a step.
    """

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return inputs
        keep = torch.rand_like(inputs).gt_(self.p).mul_(1 / (1 - self.p))
        return inputs * keep


def init_weights(module: nn.Module, init: str) -> None:
    """``keras``: what Keras's Dense and Embedding layers start from; ``torch``: PyTorch's defaults.

    Keras: Dense weights Glorot-uniform, biases zero; Embedding uniform in [-0.05, 0.05].
    """
    if init == "torch":
        return
    if init != "keras":
        raise ValueError(f'init must be "keras" or "torch", not {init!r}')
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.Embedding):
            nn.init.uniform_(layer.weight, -0.05, 0.05)
