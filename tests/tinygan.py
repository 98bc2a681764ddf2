"""A tiny unconditional GAN for the torchrun tests (loaded with ``--plugin tests/tinygan.py``).

Its networks have no batch statistics and no dropout, so two processes that each take half of a batch
make exactly the update that one process makes with the whole batch. Its schedule has every trap of
data parallelism: two D updates per step, each of them two Adam steps (real, then fake), then G's
step through a frozen D; combined with r1 (``--variant tinygan+r1``) it adds a double backward.

Test switches, read from the environment (torchrun passes it to every process):
- ``TINYGAN_WRITES=PREFIX``: every file each process renames into place (every atomic write of
  ganlab goes through ``os.replace``) is logged to ``PREFIX.rank<RANK>``;
- ``TINYGAN_STEP_SECONDS=S``: sleep S seconds after each generator update (a run long enough to
  signal in the middle);
- ``TINYGAN_NAN_RANK=R`` and ``TINYGAN_NAN_STEP=K``: rank R's generator loss is NaN from step K on.
"""
from __future__ import annotations

import math
import os
import time

import torch
import torch.nn.functional as F
from torch import nn

import ganlab

WIDTH = 32
RANK = int(os.environ.get("RANK", "0"))


class TinyGenerator(nn.Module):
    def __init__(self, latent_size: int, image_shape: tuple[int, ...]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.layers = nn.Sequential(nn.Linear(latent_size, WIDTH), nn.LeakyReLU(0.2),
                                    nn.Linear(WIDTH, math.prod(image_shape)), nn.Tanh())

    def forward(self, latent, labels):
        return self.layers(latent.flatten(1)).view(-1, *self.image_shape)


class TinyDiscriminator(nn.Module):
    def __init__(self, input_size: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(input_size, WIDTH), nn.LeakyReLU(0.2), nn.Linear(WIDTH, 1))

    def forward(self, images, labels):
        return self.layers(images.flatten(1)).squeeze(1)


@ganlab.hookimpl
def ganlab_generator(spec, input_shape):
    return TinyGenerator(math.prod(input_shape), spec.image_shape)


@ganlab.hookimpl
def ganlab_discriminator(input_shape):
    return TinyDiscriminator(math.prod(input_shape))


@ganlab.hookimpl
def ganlab_settings():
    return {"tiny_optimizer": ("adam", "adam (the core's default) or sgd (whose step shows the gradient's scale)")}


@ganlab.hookimpl
def ganlab_optimizer(network, config):
    if config.settings["tiny_optimizer"] == "sgd":
        return torch.optim.SGD(network.parameters(), lr=0.1)
    return None  # the core's Adam


@ganlab.hookimpl
def ganlab_discriminator_update():
    return "separate"


@ganlab.hookimpl
def ganlab_discriminator_steps():
    return 2


generator_losses = 0


@ganlab.hookimpl
def ganlab_generator_loss(scores):
    global generator_losses
    generator_losses += 1
    loss = F.softplus(-scores).mean()
    nan_now = str(RANK) == os.environ.get("TINYGAN_NAN_RANK") and \
        generator_losses >= int(os.environ.get("TINYGAN_NAN_STEP", "0"))
    return loss * float("nan") if nan_now else loss


@ganlab.hookimpl
def ganlab_generator_updated():
    time.sleep(float(os.environ.get("TINYGAN_STEP_SECONDS", "0")))


if os.environ.get("TINYGAN_WRITES"):
    _replace = os.replace

    def _logged_replace(source, destination, *args, **kwargs):
        with open(f"{os.environ['TINYGAN_WRITES']}.rank{RANK}", "a") as log:
            log.write(f"{destination}\n")
        return _replace(source, destination, *args, **kwargs)

    os.replace = _logged_replace
