"""Mode coverage on data made of Gaussian modes: the numbers the mode-collapse papers report.

On the 2-D ring and grid (:mod:`ganlab.data.toy`) the data is K Gaussians N(c_k, σ² I), so a sample can
be judged without any classifier, by its distance to the nearest centre, measured in σ:

    d(x) = min_k ‖x − c_k‖ / σ,    k(x) = the argmin (the sample's mode)

* ``high_quality_fraction`` -- the share of samples with d(x) <= 3: "within three standard deviations
  of the nearest mode" (Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN). Real data scores
  1 − exp(−9/2) = 98.9 % in 2-D (the radius of a 2-D Gaussian sample is Rayleigh-distributed).
* ``mode_histogram`` -- n_k, the number of high-quality samples whose mode is k.
* ``modes_covered`` -- the modes with n_k >= max(1, s · N / K), N all samples, s = ``min_share``
  (0.2 by default): a mode counts when it receives at least a fifth of its fair share N / K. VEEGAN
  and PacGAN count the modes with high-quality samples (PacGAN's code: at least one of 2 500); with
  that rule a single stray sample counts a mode, and the count grows with N. A fifth of the fair share
  does not depend on N, a stray sample never reaches it, and a present mode clears it easily; at the
  papers' N = 2 500 it asks for 63 samples of a ring mode and 20 of a grid mode. It is also the
  threshold of ganlab's ``classes_covered`` on images (:mod:`ganlab.metrics`). ``min_share=0`` gives
  the papers' rule.
* ``mode_kl`` -- KL(p ‖ u) = Σ_k p_k log(K p_k), p_k = n_k / Σ_j n_j the modes of the high-quality
  samples, u uniform: 0 for a perfect balance, log K (2.08 for the ring, 3.22 for the grid) when every
  sample lands on one mode. The direction Metz et al. 2017 (Unrolled GAN, "KL(model ‖ data)") and
  PacGAN ("reverse KL") use. None when no sample is high quality (p is then undefined).
* ``conditional_accuracy`` (conditional runs) -- the share of samples that land within 3σ of the mode
  they were generated for: ganlab's conditional accuracy, with the modes in place of a classifier.

The modes are taken as equally likely, as in every toy dataset. The functions are pure: tensors in,
numbers out; :func:`mode_metrics` returns them all as one flat, JSON-ready dict.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

HIGH_QUALITY_SIGMAS = 3.0  # "within three standard deviations of the nearest mode"
MODE_MIN_SHARE = 0.2  # a mode is covered when it gets at least 20 % of its fair share of samples
MODE_SAMPLES = 2_500  # samples judged, as in VEEGAN and PacGAN

# Which way is better, for tables that mark the winner of each metric (as ganlab.metrics does).
MODE_HIGHER_IS_BETTER = {
    "modes_covered": True,
    "high_quality_fraction": True,
    "mode_kl": False,
    "conditional_accuracy": True,
}
MODE_METRIC_LABELS = {
    "modes_covered": "modes covered",
    "high_quality_fraction": "high-quality samples",
    "mode_kl": "KL(modes ‖ uniform)",
    "conditional_accuracy": "samples on the asked mode",
}


def nearest_modes(points: torch.Tensor, centres: torch.Tensor | np.ndarray,
                  sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Each point's nearest mode (int64 (N,)) and its distance to that centre in units of sigma (N,)."""
    centres = torch.as_tensor(centres, dtype=torch.float32, device=points.device)
    distances = torch.cdist(points.float(), centres)  # (N, K) Euclidean distances
    nearest_distance, nearest = distances.min(dim=1)
    return nearest, nearest_distance / sigma


def mode_histogram(nearest: torch.Tensor, high_quality: torch.Tensor, num_modes: int) -> torch.Tensor:
    """n_k: how many high-quality samples fall on each mode, int64 (K,)."""
    return torch.bincount(nearest[high_quality], minlength=num_modes)[:num_modes]


def kl_from_uniform(histogram: torch.Tensor) -> float | None:
    """KL(p ‖ uniform) in nats for p = histogram / its sum, with 0 log 0 = 0; None for an empty one."""
    total = histogram.sum().item()
    if total == 0:
        return None
    p = histogram.double() / total
    present = p > 0
    return (p[present] * (p[present] * len(histogram)).log()).sum().item()


def covered_modes(histogram: torch.Tensor, n_samples: int, min_share: float = MODE_MIN_SHARE) -> int:
    """Modes k with n_k >= max(1, min_share * n_samples / K)."""
    needed = max(1.0, min_share * n_samples / len(histogram))
    return int((histogram >= needed).sum().item())


def mode_metrics(points: torch.Tensor, centres: torch.Tensor | np.ndarray, sigma: float,
                 labels: torch.Tensor | None = None, min_share: float = MODE_MIN_SHARE,
                 threshold: float = HIGH_QUALITY_SIGMAS) -> dict:
    """Judge samples against the modes. Returns a flat JSON-ready dict:

    ``n_samples``, ``num_modes``, ``mode_histogram`` (list), ``modes_covered``,
    ``high_quality_fraction``, ``mode_kl`` (None if no sample is high quality), and, when ``labels``
    (the mode each sample was generated for) is given, ``conditional_accuracy``.

    :param points: samples (N, D), N >= 1.
    :param centres: the modes' centres (K, D); ``sigma`` their common standard deviation.
    :param threshold: how many sigmas from its centre a high-quality sample may lie (3, as the papers).
    """
    if points.ndim != 2 or len(points) == 0:
        raise ValueError(f"mode_metrics needs points of shape (N, D) with N >= 1, got {tuple(points.shape)}")
    num_modes = len(centres)
    nearest, distance = nearest_modes(points, centres, sigma)
    high_quality = distance <= threshold
    histogram = mode_histogram(nearest, high_quality, num_modes)
    metrics: dict = {
        "n_samples": len(points),
        "num_modes": num_modes,
        "mode_histogram": histogram.tolist(),
        "modes_covered": covered_modes(histogram, len(points), min_share),
        "high_quality_fraction": high_quality.double().mean().item(),
        "mode_kl": kl_from_uniform(histogram),
    }
    if labels is not None:
        on_asked_mode = high_quality & (nearest == labels.to(nearest.device))
        metrics["conditional_accuracy"] = on_asked_mode.double().mean().item()
    return metrics


def evaluate_modes(generate_fn: Callable[[torch.Tensor], torch.Tensor],
                   centres: torch.Tensor | np.ndarray, sigma: float, n: int = MODE_SAMPLES,
                   conditional: bool = False, device: torch.device | str = "cpu",
                   batch_size: int = 2_500, min_share: float = MODE_MIN_SHARE) -> dict:
    """Generate ``n`` samples and judge them with :func:`mode_metrics`.

    :param generate_fn: labels (B,) int64 -> points (B, D); unconditional generators ignore the
        labels. Each mode is asked for equally often (n / K times, give or take one).
    :param conditional: also report ``conditional_accuracy``, for generators that use the labels.
    """
    if n < 1:
        raise ValueError(f"evaluate_modes needs n >= 1 samples, got {n}")
    labels = torch.arange(n, device=device) % len(centres)
    with torch.no_grad():
        points = torch.cat([generate_fn(batch) for batch in labels.split(batch_size)])
    if tuple(points.shape) != (n, np.shape(centres)[1]):
        raise ValueError(f"the generator made points of shape {tuple(points.shape)} for {n} labels; "
                         f"expected {(n, np.shape(centres)[1])}")
    return mode_metrics(points, centres, sigma, labels if conditional else None, min_share)

