"""Images that show no class of the dataset ("junk"), and noisy images that still do.

A classifier trained only on digits must put *every* image into some digit class. Shown uniform noise,
ganlab's first evaluation CNN answered "8" with 100 % confidence, so the noise of an early generator
read as "mode collapse to 8". The remedy (outlier exposure, Hendrycks et al. 2019, "Deep Anomaly
Detection with Outlier Exposure") is an extra output class, *junk*, trained on images like these:

* ``uniform``  -- every pixel uniform in [-1, 1];
* ``gaussian`` -- Gaussian pixels around a random grey level, clipped to [-1, 1];
* ``speckle``  -- random pixels lit inside a random smooth blob (what a GAN draws after ~300 steps);
* ``blur``     -- real images blurred so much (σ 4-6 pixels) that the class is gone;
* ``shuffle``  -- real images cut into a 4x4 grid of patches, put back in a random order
  (strokes without the shape);
* ``overlay``  -- two real images of different classes blended 50/50 (a double exposure: each
  digit at half strength). Not both at full strength (the pixel-wise maximum): that looks too much
  like a real 8 or 9 with its loops and crossings, and taught the classifier to reject those.

The other half of the lesson is :func:`legible_noise`: real images with speckle, Gaussian noise,
blur, bolder or grainy strokes keep their label, so the junk class learns "no shape", not "some noise" or
"a lot of ink" (a GAN's digits are often noisy yet perfectly legible).

Everything works on float images (N, C, H, W) in [-1, 1] (-1 = background) and draws its randomness
from an explicit ``torch.Generator``, so a seed fixes every image. The calibration in
``docs/metrics.md`` uses the same functions on the test split.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

JUNK_KINDS = ("uniform", "gaussian", "speckle", "blur", "shuffle", "overlay")
HEAVY_BLUR_SIGMAS = (4.0, 5.0, 6.0)  # pixels; at σ >= 4 an MNIST digit is a smudge (people read σ = 2.5)
LIGHT_BLUR_SIGMAS = (0.5, 1.0, 1.5, 2.0)  # pixels; still legible (see docs/metrics.md)
SHUFFLE_GRID = 4  # 4x4 patches of 7x7 pixels on 28x28 images


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each channel with a Gaussian of standard deviation ``sigma`` pixels (separable, 3σ wide).

    The border is extended by repeating the edge pixels, so a dark background stays dark."""
    radius = max(1, int(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-offsets**2 / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, [radius] * 4, mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def _blur_in_groups(images: torch.Tensor, sigmas) -> torch.Tensor:
    """Blur consecutive groups of ``images`` with the ``sigmas`` in turn (one convolution per σ)."""
    return torch.cat([gaussian_blur(part, s) for part, s in zip(images.tensor_split(len(sigmas)), sigmas)])


def _uniform(generator: torch.Generator, *shape) -> torch.Tensor:
    return torch.rand(*shape, generator=generator)


# --- the six kinds of junk -------------------------------------------------------------------------


def uniform_noise(n: int, shape, generator: torch.Generator) -> torch.Tensor:
    """n images of independent uniform pixels in [-1, 1]."""
    return _uniform(generator, n, *shape) * 2 - 1


def gaussian_noise(n: int, shape, generator: torch.Generator) -> torch.Tensor:
    """n images of Gaussian pixels: per image a grey level μ in [-1, 0.5] and a spread σ in [0.2, 1]."""
    mean = _uniform(generator, n, 1, 1, 1) * 1.5 - 1
    spread = _uniform(generator, n, 1, 1, 1) * 0.8 + 0.2
    return (mean + spread * torch.randn(n, *shape, generator=generator)).clamp(-1, 1)


def speckle_blobs(n: int, shape, generator: torch.Generator) -> torch.Tensor:
    """n images of random grey pixels lit with a probability that varies smoothly over the image,
    like the output of a barely trained generator.

    The probability map is a 3x3 grid of random values, scaled up bilinearly: shapeless clouds of
    speckle. (A finer grid draws stroke-sized blobs, which made the classifier reject the grainy but
    legible digits of a young generator.) For the second half of the images the cloud is gathered
    into an oval in the middle, the way a generator's first blobs sit where the digits will be: a
    classifier trained without those read them as "8"."""
    channels, height, width = shape
    coarse = _uniform(generator, n, 1, 3, 3)
    density = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    oval = central_ovals(n - n // 2, height, width, generator)
    density[n // 2:] = (density[n // 2:] + 0.5) * oval  # denser, so that the middle is crowded
    density = density * (_uniform(generator, n, 1, 1, 1) * 1.2 + 0.1)  # from sparse to crowded
    lit = _uniform(generator, n, 1, height, width) < density
    values = _uniform(generator, n, channels, height, width) * 2 - 1
    return torch.where(lit, values, torch.full_like(values, -1.0))


def central_ovals(n: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """n masks (n, 1, H, W) in (0, 1]: a Gaussian bump in the middle, exp(-(y²/2a² + x²/2b²)), with
    half-axes a and b between 15 % and 35 % of the image's size (a digit is about 70 % of it)."""
    rows = (torch.arange(height) - (height - 1) / 2).view(1, 1, -1, 1)
    cols = (torch.arange(width) - (width - 1) / 2).view(1, 1, 1, -1)
    a = (_uniform(generator, n, 1, 1, 1) * 0.2 + 0.15) * height
    b = (_uniform(generator, n, 1, 1, 1) * 0.2 + 0.15) * width
    return torch.exp(-(rows**2 / (2 * a**2) + cols**2 / (2 * b**2)))


def heavy_blur(images: torch.Tensor) -> torch.Tensor:
    """Real images blurred beyond recognition (σ from :data:`HEAVY_BLUR_SIGMAS`, in equal groups)."""
    return _blur_in_groups(images, HEAVY_BLUR_SIGMAS)


def shuffled_patches(images: torch.Tensor, generator: torch.Generator, grid: int = SHUFFLE_GRID) -> torch.Tensor:
    """Cut each image into grid x grid patches and put them back in a random order, per image.

    Pixels right or below the last whole patch (when the size is not a multiple of ``grid``) stay."""
    n, channels, height, width = images.shape
    ph, pw = height // grid, width // grid
    area = images[:, :, : grid * ph, : grid * pw]
    # (N, C, grid*ph, grid*pw) -> (N, grid*grid, C, ph, pw): one row per patch
    patches = area.reshape(n, channels, grid, ph, grid, pw).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(n, grid * grid, channels, ph, pw)
    order = torch.stack([torch.randperm(grid * grid, generator=generator) for _ in range(n)])
    patches = patches[torch.arange(n)[:, None], order]
    shuffled = images.clone()
    shuffled[:, :, : grid * ph, : grid * pw] = (
        patches.reshape(n, grid, grid, channels, ph, pw).permute(0, 3, 1, 4, 2, 5)
        .reshape(n, channels, grid * ph, grid * pw)
    )
    return shuffled


def partners_of_another_class(labels: torch.Tensor, generator: torch.Generator, tries: int = 20) -> torch.Tensor:
    """For each image, the index of another image with a different label (where one exists)."""
    partner = torch.randperm(len(labels), generator=generator)
    for _ in range(tries):
        same = labels[partner] == labels
        if not same.any():
            break
        partner[same] = torch.randint(len(labels), (int(same.sum()),), generator=generator)
    return partner


def overlays(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image blended 50/50 with one of another class (their mean)."""
    return (images + images[partners_of_another_class(labels, generator)]) / 2


def junk_images(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """As many junk images as ``images``: the six kinds of :data:`JUNK_KINDS` in equal parts, in that
    order. The real-image kinds (blur, shuffle, overlay) are made from the given images."""
    n, shape = len(images), images.shape[1:]
    sizes = [len(part) for part in torch.arange(n).tensor_split(len(JUNK_KINDS))]
    real_parts = images.split(sizes)
    label_parts = labels.split(sizes)
    made = [
        uniform_noise(sizes[0], shape, generator),
        gaussian_noise(sizes[1], shape, generator),
        speckle_blobs(sizes[2], shape, generator),
        heavy_blur(real_parts[3]),
        shuffled_patches(real_parts[4], generator),
        overlays(real_parts[5], label_parts[5], generator),
    ]
    return torch.cat(made)


# --- noise that leaves the class legible -----------------------------------------------------------


def legible_noise(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Real images changed in ways that leave them legible, in five equal groups:

    * speckle: up to 25 % of the pixels replaced by random grey values;
    * Gaussian: added noise of standard deviation up to 0.5 (in [-1, 1] units), clipped;
    * blur: σ from :data:`LIGHT_BLUR_SIGMAS`;
    * bold: strokes thickened by one pixel (a 3x3 maximum filter, i.e. grey-scale dilation);
    * grainy: strokes with holes and dimmer ink, on a speckled background -- how a young
      generator draws. Each ink pixel is kept with a probability in [0.6, 1] and dimmed to a contrast
      in [0.5, 1] (per image), then up to 10 % of the pixels are replaced by random grey values.
    """
    speckled, noisy, blurred, bold, grainy = images.tensor_split(5)
    speckled = _speckle(speckled, 0.25, generator)
    spread = _uniform(generator, len(noisy), 1, 1, 1) * 0.5
    noisy = (noisy + spread * torch.randn(noisy.shape, generator=generator)).clamp(-1, 1)
    bold = F.max_pool2d(bold, kernel_size=3, stride=1, padding=1)
    keep = _uniform(generator, len(grainy), 1, 1, 1) * 0.4 + 0.6
    contrast = _uniform(generator, len(grainy), 1, 1, 1) * 0.5 + 0.5
    kept = (_uniform(generator, *grainy.shape) < keep).float()
    grainy = -1 + (grainy + 1) * kept * contrast  # ink = pixel + 1 (0 on the background)
    grainy = _speckle(grainy, 0.1, generator)
    return torch.cat([speckled, noisy, _blur_in_groups(blurred, LIGHT_BLUR_SIGMAS), bold, grainy])


def _speckle(images: torch.Tensor, max_rate: float, generator: torch.Generator) -> torch.Tensor:
    """Replace a share of the pixels (per image, uniform in [0, max_rate]) by random grey values."""
    rate = _uniform(generator, len(images), 1, 1, 1) * max_rate
    replace = _uniform(generator, *images.shape) < rate
    return torch.where(replace, _uniform(generator, *images.shape) * 2 - 1, images)
