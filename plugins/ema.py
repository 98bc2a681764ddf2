"""EMA: grids, evaluation and sampling from a running average of the generator's weights (Yazıcı et al. 2019).

Yazıcı, Foo, Winkler, Yap, Piliouras & Chandrasekhar (2019), "The Unusual Effectiveness of Averaging
in GAN Training" (ICLR); ProGAN, StyleGAN and BigGAN sample the same way. A GAN's generator keeps
circling around a good solution rather than settling on it; the average of its recent weights is
often nearer the solution than any one of them. After every generator step:

    theta_ema <- beta_t * theta_ema + (1 - beta_t) * theta_G,    beta_t = min(beta, (1 + t) / (10 + t))

with beta = ``ema_decay`` (0.999: an average over roughly the last 1 000 steps) and t the step. The
ramp-up of beta_t (TensorFlow's ``ExponentialMovingAverage`` with ``num_updates``) keeps the average
from staying near the random initial weights in short runs. BatchNorm's running statistics are copied
from the generator, not averaged. The averaged copy is never trained: it only draws the sample grids,
the evaluation samples and ``ganlab sample``, and it is saved in every checkpoint.

Combine it with any variant: ``--variant cgan+ema``, ``--variant dcgan+cgan+ema --set ema_decay=0.99``.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ganlab import ConfigError, hookimpl


@hookimpl
def ganlab_settings():
    return {"ema_decay": (0.999, "beta: how much of the old average each step keeps (0.999 ~ the last 1000 steps)")}


@hookimpl
def ganlab_sampling_generator(generator, config):
    decay = config.settings["ema_decay"]
    if not 0 <= decay < 1:
        raise ConfigError(f"ema_decay must be in [0, 1), not {decay!r}: e.g. --set ema_decay=0.999.")
    return AveragedGenerator(generator, decay)


@hookimpl
def ganlab_generator_updated(generator, sampling_generator, step):
    sampling_generator.update(generator, step)


class AveragedGenerator(nn.Module):
    """A frozen copy of the generator whose weights follow the generator's as an exponential average."""

    def __init__(self, generator: nn.Module, decay: float):
        super().__init__()
        self.average = copy.deepcopy(generator).requires_grad_(False)
        self.decay = decay

    def forward(self, latent, labels):
        return self.average(latent, labels)

    def decay_at(self, step: int) -> float:
        """beta_t: the ramped-up decay at step t (steps count from 1)."""
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, generator: nn.Module, step: int) -> None:
        weight = 1 - self.decay_at(step)  # how far the average moves towards the generator
        for average, current in zip(self.average.parameters(), generator.parameters()):
            average.lerp_(current, weight)
        for average, current in zip(self.average.buffers(), generator.buffers()):
            average.copy_(current)
