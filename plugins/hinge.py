"""Hinge loss (SNGAN, SAGAN, BigGAN), loss-only: combine it with networks, e.g. dcgan+hinge.

Lim & Ye (2017), "Geometric GAN", in the form Miyato et al. (2018, "Spectral Normalization for
Generative Adversarial Networks") and Zhang et al. (2019, SAGAN) train with:

    D: minimise  E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]
    G: minimise  -E[D(G(z))]

D's scores are raw logits, as every ganlab discriminator returns them. D stops being pushed once a
real image scores above 1 and a generated one below -1, so it cannot grow its scores without bound.

This plugin builds no networks: combine it with one that does, ``--variant dcgan+hinge``,
``--variant cgan+hinge``, ``--variant projection+hinge`` (the projection discriminator's paper trains
with this loss). Order matters only where two plugins implement the same hook: the one named first
answers, so ``hinge+wgan-gp`` trains with the hinge loss (plus wgan-gp's penalty and schedule) and
``wgan-gp+hinge`` with the Wasserstein loss. Alone, ``--variant hinge`` is refused when plugins load,
because nothing in it builds a generator.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ganlab import hookimpl


@hookimpl
def ganlab_discriminator_loss(scores, is_real) -> torch.Tensor:
    """E[relu(1 - D(x))] for a real batch, E[relu(1 + D(G(z)))] for a generated one."""
    return F.relu(1 - scores).mean() if is_real else F.relu(1 + scores).mean()


@hookimpl
def ganlab_generator_loss(scores) -> torch.Tensor:
    """-E[D(G(z))]: the generator raises D's score of its images, with no margin."""
    return -scores.mean()
