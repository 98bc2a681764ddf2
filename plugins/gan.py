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

from ganlab import ConfigError, hookimpl

# The settings the MLP networks read; every plugin that builds them declares the ones it reads.
# The defaults are the tutorial's; the other values are there to measure what each choice buys
# (tutorials 2 and 3 do: `--set d_activation=relu`, `--set g_bn_momentum=0.1`, `--set d_dropout=0`).
INIT_SETTING = ("keras", "weight initialisation: keras (Glorot-uniform, zero bias) or torch")
DROPOUT_SETTING = (0.4, "dropout rate in the discriminator's last two hidden layers")
D_ACTIVATION_SETTING = ("leaky_relu", "the discriminator's hidden activation: leaky_relu (slope 0.2) or relu")
G_BN_MOMENTUM_SETTING = (0.2, "PyTorch momentum of G's BatchNorm: 0.2 = Keras's momentum=0.8; "
                              "PyTorch's default is 0.1")
POINTS_WIDTH_SETTING = (128, "units in each of the two hidden layers of G and D when the samples are 2-D points")
SETTINGS = {"init": INIT_SETTING, "d_dropout": DROPOUT_SETTING, "d_activation": D_ACTIVATION_SETTING,
            "g_bn_momentum": G_BN_MOMENTUM_SETTING, "points_width": POINTS_WIDTH_SETTING}

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

    Kept for fidelity to the tutorial. Measured for cgan at its 20 000 steps over seeds 0-2 (10 000
    samples judged by the project's classifier): 96.8 % conditional accuracy (96.3-97.4) this way,
    97.2 % (96.7-98.0) with one joint step, which overlap; recall 0.09-0.16 against 0.07-0.08.
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
                        hidden_layers(spec, config, "generator"), bn_momentum=config.settings["g_bn_momentum"])


def mlp_discriminator(spec, config, input_shape, dropout: float | None = None) -> MLPDiscriminator:
    """The plain GAN's discriminator for this data; ``dropout`` overrides the ``d_dropout`` setting."""
    return MLPDiscriminator(math.prod(input_shape), config.settings["d_dropout"] if dropout is None else dropout,
                            config.settings["init"], hidden_layers(spec, config, "discriminator"),
                            activation=config.settings["d_activation"])


class MLPGenerator(nn.Module):
    """noise (N, 100) -> 256 -> 512 -> 1024 -> C*H*W -> tanh -> sample (N, *sample_shape)."""

    def __init__(self, input_size: int, image_shape: tuple[int, ...], init: str = "keras",
                 hidden_layers: tuple[int, ...] = TUTORIAL_G_LAYERS, bn_momentum: float = 0.2):
        super().__init__()
        if not 0 <= bn_momentum <= 1:
            raise ConfigError(f"g_bn_momentum must be between 0 and 1 (PyTorch's weight of each new batch), "
                              f"not {bn_momentum}. The tutorial's Keras momentum 0.8 is 0.2 here.")
        self.image_shape = tuple(image_shape)
        layers: list[nn.Module] = []
        width = input_size
        for hidden in hidden_layers:
            # Keras's BatchNormalization(momentum=0.8) keeps 0.8 of the old running mean; PyTorch's
            # momentum is the weight of the *new* batch, so it is 0.2 here. (The popular ports write
            # nn.BatchNorm1d(n, 0.8), which sets eps, not momentum.) Keras's epsilon is 1e-3.
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2),
                       nn.BatchNorm1d(hidden, momentum=bn_momentum, eps=1e-3)]
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
                 hidden_layers: tuple[int, ...] = TUTORIAL_D_LAYERS, activation: str = "leaky_relu"):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ConfigError(f"d_dropout must be in [0, 1), not {dropout!r}: e.g. --set d_dropout=0.4.")
        layers: list[nn.Module] = []
        width = input_size
        for index, hidden in enumerate(hidden_layers):
            layers += [nn.Linear(width, hidden), hidden_activation(activation)]
            layers += [UniformDropout(dropout)] if index else []
            width = hidden
        self.layers = nn.Sequential(*layers, nn.Linear(width, 1))
        init_weights(self, init)

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.layers(inputs.flatten(1)).squeeze(1)


def hidden_activation(name: str) -> nn.Module:
    """D's activation: ``leaky_relu`` (the tutorial's LeakyReLU(0.2)) or ``relu``.

    A ReLU passes no gradient for a negative input; LeakyReLU passes 0.2 of it, so G's gradient,
    which reaches G only *through* D, does not vanish at D's inactive units.
    """
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    if name == "relu":
        return nn.ReLU()
    raise ConfigError(f'd_activation must be "leaky_relu" (the tutorial\'s) or "relu", not {name!r}.')


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
        raise ConfigError(f'init must be "keras" or "torch", not {init!r}: e.g. --set init=torch.')
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.Embedding):
            nn.init.uniform_(layer.weight, -0.05, 0.05)
