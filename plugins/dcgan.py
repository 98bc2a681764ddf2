"""DCGAN: convolutional G (transposed convs + BatchNorm) and D (strided convs + LeakyReLU).

Radford, Metz & Chintala (2015), "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks". This plugin supplies the two networks only; the losses are the
core's defaults, those of the original GAN (Goodfellow et al. 2014):

    D: minimise  -log D(x) - log(1 - D(G(z)))        (binary cross-entropy on logits)
    G: minimise  -log D(G(z))                         (the non-saturating loss)

The paper's architecture rules, kept here: no pooling (strided convolutions in D, fractionally-strided
ones in G), BatchNorm in both networks except D's first layer and G's output layer, ReLU in G with
tanh at the output, LeakyReLU(0.2) in D, weights drawn from N(0, 0.02).

Sizes come from the dataset, not from constants. Each transposed convolution doubles the height and
the width, so G starts from the image size halved as often as it stays whole and at least 4 (28x28:
7 -> 14 -> 28; 32x32: 4 -> 8 -> 16 -> 32; 64x64: 4 -> ... -> 64) and D halves it the same number of
times. Simplifications: G's first layer is a Linear layer reshaped to a small feature map (the paper's
1x1 -> 4x4 transposed convolution is the same map); the widths are smaller than the paper's, to suit a
CPU (``g_width``/``d_width`` 32: MNIST's G goes 64x7x7 -> 32x14x14 -> 1x28x28, D 32x14x14 -> 64x7x7;
the paper's 128 and pytorch/examples' 64 cost 4 to 16 times as much); the whole of D's last feature map
goes into one Linear logit.

Both networks take any conditioned input, so DCGAN combines with other plugins' conditioning:
``--variant dcgan+cgan`` multiplies the noise and the image by learned label embeddings before they
enter these networks. For WGAN-GP's gradient penalty, BatchNorm in the critic mixes the samples of a
batch; use ``--variant dcgan+wgan-gp --set d_norm=layer`` (the WGAN-GP paper's choice).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ganlab import hookimpl

D_NORMS = ("batch", "layer", "none")


@hookimpl
def ganlab_settings():
    return {
        "g_width": (32, "channels of the generator's last hidden layer (doubling towards its input)"),
        "d_width": (32, "channels of the discriminator's first layer (doubling at each halving)"),
        "d_norm": ("batch", "normalisation in the discriminator: batch (DCGAN), layer (for WGAN-GP) or none"),
    }


@hookimpl
def ganlab_generator(spec, config, input_shape):
    require_images(spec.image_shape, "the data")
    return ConvGenerator(math.prod(input_shape), spec.image_shape, config.settings["g_width"])


@hookimpl
def ganlab_discriminator(spec, config, input_shape):
    require_images(input_shape, "its input (after the discriminator's conditioning)")
    norm = config.settings["d_norm"]
    if norm not in D_NORMS:
        raise ValueError(f"d_norm must be one of {', '.join(D_NORMS)}, not {norm!r}")
    return ConvDiscriminator(tuple(input_shape), config.settings["d_width"], norm)


MIN_SIDE = 4  # D's first strided convolution needs at least 4 pixels a side


def require_images(shape: tuple[int, ...], what: str) -> None:
    """Convolutions need images (C, H, W) of at least 4x4 pixels; say so, with the shape that came instead."""
    if len(shape) != 3:
        raise ValueError(f"dcgan's convolutional networks need images of shape (C, H, W), but {what} has "
                         f"shape {tuple(shape)}; use an MLP variant (gan, cgan) for this data, or a "
                         f"conditioning that keeps the image's shape")
    if min(shape[1:]) < MIN_SIDE:
        raise ValueError(f"dcgan's convolutional networks need images of at least {MIN_SIDE}x{MIN_SIDE} pixels, "
                         f"but {what} has {shape[1]}x{shape[2]}; resize the images (--image-size 28, 32 or 64 "
                         f"for --dataset folder) or use an MLP variant (gan, cgan)")


def halvings(height: int, width: int) -> int:
    """How many times both sides can be halved exactly while staying at least 4 pixels."""
    count = 0
    while height % 2 == 0 and width % 2 == 0 and height // 2 >= 4 and width // 2 >= 4:
        height, width, count = height // 2, width // 2, count + 1
    return count


class ConvGenerator(nn.Module):
    """(N, input) -> Linear -> (N, width*2^(n-1), H/2^n, W/2^n) -> n transposed convs -> (N, C, H, W)."""

    def __init__(self, input_size: int, image_shape: tuple[int, int, int], width: int = 32):
        super().__init__()
        channels, height, width_px = image_shape
        n = halvings(height, width_px)
        self.start = (width * 2 ** max(n - 1, 0), height // 2 ** n, width_px // 2 ** n)  # MNIST: (64, 7, 7)
        self.project = nn.Sequential(
            nn.Linear(input_size, math.prod(self.start), bias=False),
            nn.BatchNorm1d(math.prod(self.start)), nn.ReLU(),
        )
        layers: list[nn.Module] = []
        c = self.start[0]
        for _ in range(n - 1):  # each doubles the size and halves the channels: MNIST 7x7 -> 14x14
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        if n > 0:  # the last doubling makes the image itself: MNIST 14x14 -> 28x28
            layers.append(nn.ConvTranspose2d(c, channels, 4, 2, 1))
        else:  # sides that cannot be halved: one same-size convolution to the image's channels
            layers.append(nn.Conv2d(c, channels, 3, 1, 1))
        self.layers = nn.Sequential(*layers, nn.Tanh())
        dcgan_init(self)

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.layers(self.project(inputs.flatten(1)).view(-1, *self.start))


class ConvDiscriminator(nn.Module):
    """(N, C, H, W) -> n strided convs, each halving the size (MNIST 28 -> 14 -> 7) -> Linear -> (N,) logits."""

    def __init__(self, input_shape: tuple[int, int, int], width: int = 32, norm: str = "batch"):
        super().__init__()
        channels, height, width_px = input_shape
        n = max(halvings(height, width_px), 1)  # at least one strided convolution, even for odd sizes
        layers: list[nn.Module] = []
        c_in, c_out = channels, width
        for index in range(n):
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=index == 0 or norm == "none"))
            if index > 0:  # DCGAN: no normalisation on the first layer, which sees the image
                layers.append(_norm_layer(norm, c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in, c_out = c_out, c_out * 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():  # the size of the last feature map, whatever the input size
            features = self.features.eval()(torch.zeros(1, *input_shape)).shape[1]
        self.features.train()
        self.head = nn.Linear(features, 1)
        dcgan_init(self)

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(inputs)).squeeze(1)


def _norm_layer(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":  # normalises each sample over all its channels and pixels: no batch mixing
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def dcgan_init(module: nn.Module) -> None:
    """The paper's initialisation: conv and linear weights ~ N(0, 0.02); norm scales ~ N(1, 0.02)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)
