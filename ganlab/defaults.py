"""The core's default hook implementations: the original GAN, unconditional, N(0, 1) noise, Adam.

They are registered ``trylast``, so any plugin that implements the same hook is asked first.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.hookspecs import hookimpl


class PassThrough(nn.Module):
    """No conditioning: the network's input is the noise (or the image) unchanged."""

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return inputs


@hookimpl(trylast=True)
def ganlab_is_conditional():
    return False


@hookimpl(trylast=True)
def ganlab_sample_latent(count, config, device, generator):
    """Noise from N(0, 1), shape (count, latent_dim): from the global stream on the device in training,
    or from a seeded CPU generator (fixed grids, evaluation), then moved to the device."""
    if generator is None:
        return torch.randn(count, config.latent_dim, device=device)
    return torch.randn(count, config.latent_dim, generator=generator).to(device)


@hookimpl(trylast=True)
def ganlab_generator_conditioning():
    return PassThrough()


@hookimpl(trylast=True)
def ganlab_discriminator_conditioning():
    return PassThrough()


@hookimpl(trylast=True)
def ganlab_discriminator_loss(scores, is_real):
    """Binary cross-entropy on logits: -log sigmoid(s) for real, -log(1 - sigmoid(s)) for fake.

    With D(x) = sigmoid(s): -log sigmoid(s) = softplus(-s) and -log(1 - sigmoid(s)) = softplus(s).
    This is exactly the tutorial's sigmoid + BCE, written in the numerically stable logits form
    (and without building a tensor of targets every step).
    """
    return F.softplus(-scores if is_real else scores).mean()


@hookimpl(trylast=True)
def ganlab_generator_loss(scores):
    """The non-saturating generator loss of Goodfellow et al. (2014): -log D(G(z)) = softplus(-s)."""
    return F.softplus(-scores).mean()


@hookimpl(trylast=True)
def ganlab_real_fake_threshold():
    """A logit above 0 is a probability above 1/2: D calls the sample real."""
    return 0.0


@hookimpl(trylast=True)
def ganlab_discriminator_update():
    return "joint"


@hookimpl(trylast=True)
def ganlab_discriminator_steps():
    return 1


@hookimpl(trylast=True)
def ganlab_optimizer(network, role, config):
    """The tutorial's Adam (the discriminator's rate is ``config.d_lr`` when given: TTUR). The fused
    kernel does the whole update in one pass where torch has it."""
    params = [p for p in network.parameters() if p.requires_grad]
    betas = (config.beta1, config.beta2)
    lr = config.d_lr if role == "discriminator" and config.d_lr is not None else config.lr
    device = params[0].device if params else torch.device("cpu")
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused Adam for this device or torch
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=device.type != "cpu")
