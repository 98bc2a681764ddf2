"""WGAN-GP: a critic without sigmoid, the Wasserstein loss and a gradient penalty on interpolates.

Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville (2017), "Improved Training of Wasserstein GANs",
Algorithm 1. The critic D scores images with any real number; the losses are

    critic:    L_D = E[D(G(z))] - E[D(x)] + lambda * E[(||grad_x^ D(x^)||_2 - 1)^2]        (eq. 3)
    generator: L_G = -E[D(G(z))]

where x^ = eps * x + (1 - eps) * G(z) with one eps ~ U[0, 1] *per sample*, and the gradient's norm is
taken *per sample over all of C x H x W*. (A known bug in popular ports takes the norm over one
axis only, e.g. ``grad.norm(2, dim=1)`` on a (N, C, H, W) gradient, which penalises each pixel
column instead of the whole gradient.) The trainer adds the real loss, the fake loss and the penalty
(:func:`ganlab_discriminator_penalty`) and minimises the sum.

The paper's defaults are settings: lambda = 10 (``gp_weight``), n_critic = 5 critic updates per
generator update (``n_critic``), Adam(lr 1e-4, betas (0, 0.9)) for both networks (``wgan_lr``,
``wgan_beta1``, ``wgan_beta2``).

Networks, and the simplifications: the generator is the plain GAN's MLP (with BatchNorm, which the
paper allows in G). The critic is the plain GAN's MLP *without dropout* (dropout would make the
critic a different function at each call, and the penalty would constrain a moving target) and
without normalisation: the penalty is per sample, and BatchNorm would tie the samples of a batch
together. The paper's MNIST critic is convolutional; for that use ``--variant dcgan+wgan-gp --set
d_norm=layer`` (dcgan's networks, asked first, with this plugin's losses, penalty and schedule). In a
conditional combination (``cgan+wgan-gp``) the interpolates are scored with the real batch's labels.
"""
from __future__ import annotations

import torch
from torch import nn

from ganlab import ConfigError, adversarial_scores, hookimpl
from ganlab_plugins.gan import (
    D_ACTIVATION_SETTING,
    G_BN_MOMENTUM_SETTING,
    INIT_SETTING,
    POINTS_WIDTH_SETTING,
    mlp_discriminator,
    mlp_generator,
)


@hookimpl
def ganlab_settings():
    return {
        "init": INIT_SETTING,  # the plain GAN's: both MLPs read them (the critic has no dropout)
        "d_activation": D_ACTIVATION_SETTING,
        "g_bn_momentum": G_BN_MOMENTUM_SETTING,
        "points_width": POINTS_WIDTH_SETTING,
        "gp_weight": (10.0, "lambda: weight of the gradient penalty (the paper's 10)"),
        "n_critic": (5, "critic updates per generator update (the paper's 5)"),
        "wgan_lr": (1e-4, "Adam learning rate of both networks (the paper's 1e-4)"),
        "wgan_beta1": (0.0, "Adam beta1 (the paper's 0)"),
        "wgan_beta2": (0.9, "Adam beta2 (the paper's 0.9)"),
    }


@hookimpl
def ganlab_generator(spec, config, input_shape):
    """The plain GAN's MLP generator (BatchNorm is allowed in G: the penalty is on the critic)."""
    return mlp_generator(spec, config, input_shape)


@hookimpl
def ganlab_discriminator(spec, config, input_shape):
    """The critic: the plain GAN's MLP with no dropout. Its output is a score, not a probability."""
    return mlp_discriminator(spec, config, input_shape, dropout=0.0)


@hookimpl
def ganlab_discriminator_loss(scores, is_real):
    """-E[D(x)] on real images, +E[D(G(z))] on generated ones: their sum estimates -W(real, fake)."""
    return -scores.mean() if is_real else scores.mean()


@hookimpl
def ganlab_generator_loss(scores):
    """-E[D(G(z))]: the generator raises the critic's score of its images."""
    return -scores.mean()


@hookimpl
def ganlab_discriminator_penalty(discriminator, real, fake, real_labels, config):
    """lambda * E[(||grad D(x^)||_2 - 1)^2], logged in losses.csv as ``d_gradient_penalty``."""
    return {"gradient_penalty": config.settings["gp_weight"] * gradient_penalty(discriminator, real, fake, real_labels)}


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     labels: torch.Tensor) -> torch.Tensor:
    """E[(||grad D(x^)||_2 - 1)^2] over random points x^ between real and fake images (unweighted).

    ``create_graph=True`` keeps the gradient differentiable, so the critic's update can follow the
    penalty's own gradient (a second derivative).
    """
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)  # one per sample
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = adversarial_scores(critic(mixed, labels))
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)  # per sample, over all of C x H x W
    return ((norms - 1) ** 2).mean()


@hookimpl
def ganlab_discriminator_steps(config):
    return config.settings["n_critic"]


@hookimpl
def ganlab_optimizer(network, config):
    """The paper's Adam(1e-4, betas (0, 0.9)), for the critic and the generator alike."""
    settings = check_settings(config.settings)
    params = [p for p in network.parameters() if p.requires_grad]
    return torch.optim.Adam(params, lr=settings["wgan_lr"], betas=(settings["wgan_beta1"], settings["wgan_beta2"]))


def check_settings(settings: dict) -> dict:
    """Refuse values outside their range when the optimizers are built, before the first step."""
    values = {name: settings[name] for name in ("gp_weight", "n_critic", "wgan_lr", "wgan_beta1", "wgan_beta2")}
    problems = [
        f"{name}={values[name]!r} ({rule})" for name, ok, rule in (
            ("gp_weight", values["gp_weight"] >= 0, "0 or more"),
            ("n_critic", values["n_critic"] >= 1, "at least 1"),
            ("wgan_lr", values["wgan_lr"] > 0, "more than 0"),
            ("wgan_beta1", 0 <= values["wgan_beta1"] < 1, "in [0, 1)"),
            ("wgan_beta2", 0 <= values["wgan_beta2"] < 1, "in [0, 1)"),
        ) if not ok
    ]
    if problems:
        raise ConfigError(f"wgan-gp settings out of range: {'; '.join(problems)}. Fix them with --set.")
    return values
