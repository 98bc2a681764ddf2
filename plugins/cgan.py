"""The tutorial's conditional GAN: noise and images are multiplied by a learned label embedding.

Mirza & Osindero (2014), "Conditional Generative Adversarial Nets", in the form of the Keras cGAN
tutorial (Keras-GAN's ``cgan.py``): the generator's input is ``z * Embedding(K, latent)(y)`` and the
discriminator's input is ``flatten(x) * Embedding(K, C*H*W)(y)``; the networks are the plain GAN's
MLPs. Multiplying (rather than concatenating a one-hot label) gives each class its own learned
scaling of the noise and of the pixels.

Combine it with other networks: ``--variant dcgan+cgan`` keeps those networks and adds this
conditioning.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ganlab import hookimpl
from ganlab_plugins.gan import SETTINGS, init_weights, mlp_discriminator, mlp_generator


@hookimpl
def ganlab_settings():
    return SETTINGS  # the plain GAN's: its networks read them


@hookimpl
def ganlab_is_conditional():
    return True


@hookimpl
def ganlab_generator_conditioning(spec, config):
    return MultiplyByLabelEmbedding(spec.num_classes, (config.latent_dim,), config.settings["init"])


@hookimpl
def ganlab_discriminator_conditioning(spec, config):
    return MultiplyByLabelEmbedding(spec.num_classes, spec.image_shape, config.settings["init"])


# The plain GAN's networks and D update. (In ``dcgan+cgan`` the networks of dcgan, asked first, win.)
@hookimpl
def ganlab_generator(spec, config, input_shape):
    return mlp_generator(spec, config, input_shape)


@hookimpl
def ganlab_discriminator(spec, config, input_shape):
    return mlp_discriminator(spec, config, input_shape)


@hookimpl
def ganlab_discriminator_update():
    """The tutorial's two ``train_on_batch`` calls, as the plain GAN (see ``gan``)."""
    return "separate"


class MultiplyByLabelEmbedding(nn.Module):
    """``inputs * embedding(labels)``: one learned vector per class, the size of the input."""

    def __init__(self, num_classes: int, input_shape: tuple[int, ...], init: str = "keras"):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.embedding = nn.Embedding(num_classes, math.prod(input_shape))
        init_weights(self, init)

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # The tutorial flattens the image before multiplying; reshaping the embedding instead is the
        # same product and keeps the image shape, so convolutional networks can use it too.
        return inputs * self.embedding(labels).view(-1, *self.input_shape)
