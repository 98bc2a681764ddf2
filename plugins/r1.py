"""R1: a gradient penalty on real data only (Mescheder, Geiger & Nowozin 2018), for any networks.

"Which Training Methods for GANs do actually Converge?" (ICML 2018), eq. 9: the discriminator's loss
gets the term

    R1 = gamma / 2 * E_{x ~ real}[ ||grad_x D(x)||^2 ]

which pushes D's gradient towards 0 on the real data, so that D stops pushing the generator once the
fakes sit on the data. The paper shows that this makes training converge locally where the plain GAN
oscillates; StyleGAN2 trains with it. gamma is ``r1_gamma`` (10, the paper's value for its image
experiments); the norm is taken per sample over all of C x H x W, like WGAN-GP's. Logged in
losses.csv as ``d_r1_penalty``.

Loss-only: combine it with networks, ``--variant gan+r1``, ``--variant cgan+r1``, ``--variant dcgan+r1``.
"""
from __future__ import annotations

import torch

from ganlab import adversarial_scores, hookimpl


@hookimpl
def ganlab_settings():
    return {"r1_gamma": (10.0, "gamma: weight of the R1 penalty (the paper's 10)")}


@hookimpl
def ganlab_discriminator_penalty(discriminator, real, real_labels, config):
    return {"r1_penalty": config.settings["r1_gamma"] / 2 * r1_penalty(discriminator, real, real_labels)}


def r1_penalty(discriminator, real: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """E[||grad_x D(x)||^2] over the real batch (unweighted); differentiable in D's weights."""
    real = real.detach().requires_grad_(True)
    scores = adversarial_scores(discriminator(real, labels))
    (grad,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()
