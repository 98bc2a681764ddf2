"""The core's default hook implementations: the original GAN, unconditional, trained with Adam.

They are registered ``trylast``, so any plugin that implements the same hook is asked first.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganlab import hookimpl
from ganlab.hookspecs import adversarial_scores


class PassThrough(nn.Module):
    """No conditioning: the network's input is the noise (or the image) unchanged."""

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return inputs


@hookimpl(trylast=True)
def ganlab_is_conditional():
    return False


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
    logits = adversarial_scores(scores)
    return F.softplus(-logits if is_real else logits).mean()


@hookimpl(trylast=True)
def ganlab_generator_loss(scores):
    """The non-saturating generator loss of Goodfellow et al. (2014): -log D(G(z)) = softplus(-s)."""
    return F.softplus(-adversarial_scores(scores)).mean()


@hookimpl(trylast=True)
def ganlab_discriminator_update():
    return "joint"


@hookimpl(trylast=True)
def ganlab_discriminator_steps():
    return 1


@hookimpl(trylast=True)
def ganlab_optimizer(network, config):
    """The tutorial's Adam. The fused kernel does the whole update in one pass where torch has it."""
    params = [p for p in network.parameters() if p.requires_grad]
    betas = (config.beta1, config.beta2)
    device = params[0].device if params else torch.device("cpu")
    try:
        return torch.optim.Adam(params, lr=config.lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused Adam for this device or torch
        return torch.optim.Adam(params, lr=config.lr, betas=betas, foreach=device.type != "cpu")
