"""Projection cGAN: the label enters the discriminator as an inner product with its features.

Miyato & Koyama (2018), "cGANs with Projection Discriminator". With phi(x) the discriminator's
features, psi a linear layer and embed(y) a learned vector per class (their eq. 3 with V = embed):

    D(x, y) = psi(phi(x)) + <embed(y), phi(x)>

The first term says how real the image looks; the second how much it looks like class y. This form
follows from writing the log density ratio of real to fake for a categorical y; concatenating a
one-hot label to the input, the older way, is not of that form. The losses are the core's defaults
(BCE for D, non-saturating -log D(G(z)) for G); the paper trains with the hinge loss, which is
``--variant projection+hinge``.

Simplifications: phi is the plain GAN's MLP discriminator up to its last hidden layer (512 features,
dropout included), not the paper's ResNet, and there is no spectral normalisation. The generator is
the tutorial's cGAN generator (noise multiplied by a label embedding) instead of the paper's
conditional BatchNorm.
"""
from __future__ import annotations

import torch
from torch import nn

from ganlab import hookimpl
from ganlab_plugins.cgan import MultiplyByLabelEmbedding
from ganlab_plugins.gan import SETTINGS, MLPDiscriminator, mlp_discriminator, mlp_generator


@hookimpl
def ganlab_settings():
    return SETTINGS  # the plain GAN's (init, d_dropout): the MLPs read them


@hookimpl
def ganlab_is_conditional():
    return True


@hookimpl
def ganlab_generator_conditioning(spec, config):
    """The tutorial's cGAN conditioning for the generator: noise * Embedding(K, latent)(y)."""
    return MultiplyByLabelEmbedding(spec.num_classes, (config.latent_dim,), config.settings["init"])


@hookimpl
def ganlab_generator(spec, config, input_shape):
    return mlp_generator(spec, config, input_shape)


@hookimpl
def ganlab_discriminator(spec, config, input_shape):
    return ProjectionDiscriminator(mlp_discriminator(spec, config, input_shape), spec.num_classes)


class ProjectionDiscriminator(nn.Module):
    """image -> phi (the plain GAN's MLP trunk) -> psi(phi) + <embed(y), phi> -> (N,) logits."""

    def __init__(self, mlp: MLPDiscriminator, num_classes: int):
        super().__init__()
        self.phi = mlp.layers[:-1]  # everything before the plain GAN's output layer
        self.psi = mlp.layers[-1]  # Linear(512, 1)
        self.embed = nn.Embedding(num_classes, self.psi.in_features)
        nn.init.xavier_uniform_(self.embed.weight)  # as the paper's code; N(0, 1) would swamp psi

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        features = self.phi(inputs.flatten(1))
        return self.psi(features).squeeze(1) + (self.embed(labels) * features).sum(1)
