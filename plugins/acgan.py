"""ACGAN: D with an auxiliary class head; its class loss is added to both D's and G's losses.

Odena, Olah & Shlens (2017), "Conditional Image Synthesis with Auxiliary Classifier GANs". The
discriminator returns two outputs, ``(adversarial logits (N,), class logits (N, K))``: whether an image
is real, and which class it shows. With S the source (real or fake) and C the class, the paper writes

    L_S = E[log P(S=real | x)] + E[log P(S=fake | G(z, c))]
    L_C = E[log P(C=c | x)]    + E[log P(C=c | G(z, c))]

and trains D to maximise L_S + L_C, G to maximise L_C - L_S. As losses to minimise, per batch:

    D, real batch:       BCE(adv(x), 1)       + CE(cls(x), y)
    D, generated batch:  BCE(adv(G(z,c)), 0)  + CE(cls(G(z,c)), c)
    G:                   BCE(adv(G(z,c)), 1)  + CE(cls(G(z,c)), c)

G's adversarial term is the non-saturating ``-log D(G(z))`` instead of the paper's ``+log(1 - D(G(z)))``
(which the paper's own code does too). D learns to classify fakes as the class they were drawn for,
and G to draw images that D classifies as that class: that is what makes samples class-true.

The adversarial terms are whatever loss the variant uses (the core's BCE above, or hinge in
``acgan+hinge``): this plugin adds only the class terms, through ``ganlab_auxiliary_loss``.

Simplifications: the networks are the tutorial's MLPs, not the paper's convolutional ones. The
generator is conditioned like the tutorial's cGAN (noise multiplied by a label embedding); the
discriminator gets the bare image (the label enters D's losses only, through the class head). Its
trunk is the plain GAN's discriminator up to its last hidden layer, with two heads on top.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
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
    return AuxiliaryClassifierDiscriminator(mlp_discriminator(spec, config, input_shape), spec.num_classes,
                                            config.settings["init"])


class AuxiliaryClassifierDiscriminator(nn.Module):
    """image -> the plain GAN's MLP trunk (512 features) -> (real/fake logit (N,), class logits (N, K))."""

    def __init__(self, mlp: MLPDiscriminator, num_classes: int, init: str = "keras"):
        super().__init__()
        self.features = mlp.layers[:-1]  # everything before the plain GAN's output layer
        self.adversarial = mlp.layers[-1]  # Linear(512, 1), initialised like the plain GAN's
        self.classes = nn.Linear(self.adversarial.in_features, num_classes)
        if init == "keras":
            nn.init.xavier_uniform_(self.classes.weight)
            nn.init.zeros_(self.classes.bias)

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(inputs.flatten(1))
        return self.adversarial(features).squeeze(1), self.classes(features)


def class_logits(outputs: tuple) -> torch.Tensor:
    """The class head's logits (N, K): the second of the discriminator's outputs."""
    if len(outputs) < 2:
        raise TypeError(
            "acgan's class loss needs a discriminator that returns (adversarial logits, class logits); "
            "this one returned only the adversarial logits. Name acgan before plugins whose "
            "discriminator has no class head (e.g. acgan+dcgan, not dcgan+acgan)."
        )
    return outputs[1]


@hookimpl
def ganlab_auxiliary_loss(outputs, labels):
    """CE(cls, labels), for D on both batches and for G: name the class of real and generated images.

    Logged in losses.csv as ``d_class_loss`` and ``g_class_loss``.
    """
    return {"class_loss": F.cross_entropy(class_logits(outputs), labels)}
