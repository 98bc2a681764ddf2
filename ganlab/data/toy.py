"""2-D toy data for watching a GAN learn: mixtures of Gaussian modes, generated from a seed.

Every dataset here is K equally likely isotropic Gaussians N(c_k, sigma² I) in the plane; a sample's
label is the index k of the mode it was drawn from, so a conditional GAN can be asked for one mode.

============  =====  ===================================================================  ==========
name          modes  centres                                                              sigma
============  =====  ===================================================================  ==========
``ring``      8      on a circle of radius 0.8, mode k at angle 2πk/8                     0.008
``grid``      25     a 5x5 grid, x and y in {-0.8, -0.4, 0, 0.4, 0.8}, mode 5i + j at     0.01
                     (x_i, y_j)
``spiral``    20     along one arm of an Archimedean spiral r ∝ θ, θ from π to 4π (1.5    0.01
                     turns, r from 0.2 to 0.8), equally spaced in arc length, from the
                     inside out
``moons``     16     two interleaved half-circles (scikit-learn's ``make_moons`` shape):  0.01
                     modes 0-7 along the upper moon, 8-15 along the lower one
============  =====  ===================================================================  ==========

Scaling. The layouts are the literature's benchmarks scaled to fit the generator's ``tanh`` with a
margin: the centres lie within ±0.8, so the points stay within about ±0.85, where tanh needs inputs of
only about ±1.3 (it would need infinite ones to reach ±1):

* ``ring``: Metz et al. 2017 (Unrolled GAN) and Srivastava et al. 2017 (VEEGAN) use radius 2 and
  sigma 0.02; Lin et al. 2018 (PacGAN) radius 1 and sigma 0.01. Both have sigma = radius / 100, which
  is kept: radius 0.8, sigma 0.008 (the papers' coordinates times 0.4, or 0.8 for PacGAN's).
* ``grid``: PacGAN's 2D-grid, centres (-4 + 2i, -4 + 2j) with sigma 0.05, times 0.2: spacing 0.4,
  sigma 0.01 (sigma = spacing / 40).
* ``spiral`` and ``moons`` have no canonical paper version; they use the grid's sigma, 0.01, and put
  neighbouring modes about 0.24 (24 sigma) apart, so that "within 3 sigma of a mode" (the mode
  metrics' test) never confuses two modes.

**ganlab's default spread is 2.5 times the literature's** (ring 0.02, grid 0.025, spiral and moons
0.025): at the papers' sigma a small MLP GAN needs hundreds of thousands of steps before its samples
fall within 3 sigma of a mode (PacGAN trains 400 000), so a learner would watch nothing happen for
minutes; at 2.5x, mode collapse and its fixes show in a few thousand steps (measured in
benchmarks/README.md). ``sigma=...`` gives any other spread, e.g. the papers' (``toy_modes(name).sigma``).

Each split is drawn i.i.d.: a mode uniformly at random, then a point from its Gaussian. The default
100 000 training and 10 000 test points are generated in a few milliseconds. Options (``load_dataset``
keywords; a RunConfig's ``data_options``; ``ganlab run --sigma``): ``seed``, ``n_train``, ``n_test``,
and ``sigma`` (the metrics use the spread the data was drawn with).
"""
from __future__ import annotations

import os

import numpy as np

from ganlab.data import Dataset, Modes
from ganlab.data.points import make_points_dataset
from ganlab.errors import DataError

N_TRAIN = 100_000
N_TEST = 10_000
DEFAULT_SPREAD = 2.5  # ganlab's sigma, as a multiple of the literature's: see the module docstring


def ring_modes(count: int = 8, radius: float = 0.8) -> Modes:
    """8 modes on a circle (Unrolled GAN, VEEGAN, PacGAN), sigma = radius / 100."""
    angles = 2 * np.pi * np.arange(count) / count
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return Modes(centres.astype(np.float32), radius / 100)


def grid_modes(side: int = 5, half_width: float = 0.8) -> Modes:
    """side x side modes on a square grid (VEEGAN, PacGAN), sigma = spacing / 40."""
    ticks = np.linspace(-half_width, half_width, side)
    centres = np.array([(x, y) for x in ticks for y in ticks])  # mode 5i + j sits at (x_i, y_j)
    spacing = ticks[1] - ticks[0]
    return Modes(centres.astype(np.float32), float(spacing / 40))


def spiral_modes(count: int = 20, turns: tuple[float, float] = (0.5, 2.0), radius: float = 0.8) -> Modes:
    """``count`` modes along r = radius * θ / θ_end, θ from 2π * turns[0] to 2π * turns[1], equally
    spaced in arc length (so the outer modes are not sparser than the inner ones)."""
    theta = np.linspace(2 * np.pi * turns[0], 2 * np.pi * turns[1], 10_000)
    r = radius * theta / theta[-1]
    curve = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))])
    wanted = np.linspace(0, arc[-1], count)
    centres = np.stack([np.interp(wanted, arc, curve[:, 0]), np.interp(wanted, arc, curve[:, 1])], axis=1)
    return Modes(centres.astype(np.float32), 0.01)


def moons_modes(per_moon: int = 8, half_width: float = 0.8) -> Modes:
    """Two interleaved half-circles of ``per_moon`` modes each, in scikit-learn's ``make_moons`` layout
    (upper moon (cos t, sin t), lower moon (1 - cos t, 1/2 - sin t), t in [0, π]), centred and scaled
    so x spans [-half_width, half_width]."""
    t = np.linspace(0, np.pi, per_moon)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    centres = np.concatenate([upper, lower]) - [0.5, 0.25]  # the layout spans x in [-1, 2], y in [-0.5, 1]
    return Modes((centres * half_width / 1.5).astype(np.float32), 0.01)


TOY_MODES = {"ring": ring_modes, "grid": grid_modes, "spiral": spiral_modes, "moons": moons_modes}


def toy_modes(name: str) -> Modes:
    """The centres and sigma of a toy dataset by name, without generating any points."""
    if name not in TOY_MODES:
        raise DataError(f"Unknown toy dataset {name!r}. The toy datasets are: {', '.join(TOY_MODES)}.")
    return TOY_MODES[name]()


def sample_modes(modes: Modes, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points from the equal-weight mixture: float32 points (n, D), int64 labels (n,)."""
    labels = rng.integers(0, len(modes.centres), n)
    noise = rng.standard_normal((n, modes.centres.shape[1]))
    points = modes.centres[labels] + modes.sigma * noise
    return points.astype(np.float32), labels.astype(np.int64)


def make_toy_dataset(name: str, seed: int = 0, n_train: int = N_TRAIN, n_test: int = N_TEST,
                     sigma: float | None = None) -> Dataset:
    """Generate a toy dataset: the same ``seed`` always gives the same points and labels.

    ``sigma`` is the spread of every mode; by default ``DEFAULT_SPREAD`` times the literature's.
    """
    modes = toy_modes(name)
    sigma = DEFAULT_SPREAD * modes.sigma if sigma is None else sigma
    modes = Modes(modes.centres, _checked_sigma(sigma, modes, name))
    for option, value, least in (("n_train", n_train, 1), ("n_test", n_test, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise DataError(f"{option} must be a whole number of points, at least {least}; got {value!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a whole number >= 0; got {seed!r}.")
    rng = np.random.default_rng(seed)
    x_train, y_train = sample_modes(modes, n_train, rng)
    x_test, y_test = sample_modes(modes, n_test, rng)
    return make_points_dataset(name, f"the generated {name} dataset", x_train, y_train, x_test, y_test, modes)


def _checked_sigma(sigma, modes: Modes, name: str) -> float:
    """A spread that keeps the modes apart (3-sigma discs 6 sigma apart) and the points inside ±1."""
    gaps = np.linalg.norm(modes.centres[:, None] - modes.centres[None], axis=2)
    np.fill_diagonal(gaps, np.inf)
    largest = min(gaps.min() / 6, (1 - np.abs(modes.centres).max()) / 5)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 < sigma <= largest:
        raise DataError(f"sigma for {name} must be a number above 0 and at most {largest:.3g} (wider "
                        f"modes would touch or leave [-1, 1]); got {sigma!r}. The literature's is "
                        f"{modes.sigma:.3g}.")
    return float(sigma)


def _toy_loader(name: str):
    """A ``load_dataset`` loader for one toy dataset: options ``seed``, ``n_train``, ``n_test``, ``sigma``."""

    def load(path: str | os.PathLike | None = None, seed: int = 0, n_train: int = N_TRAIN,
             n_test: int = N_TEST, sigma: float | None = None) -> Dataset:
        if path is not None:
            raise DataError(f"The {name} dataset is generated from a seed and reads no file; drop "
                            f"--data {path} (for your own points use --dataset points --data FILE.npz).")
        return make_toy_dataset(name, seed, n_train, n_test, sigma)

    load.__name__ = f"load_{name}"
    load.__doc__ = f"The ``{name}`` dataset: {TOY_MODES[name].__doc__.splitlines()[0]}"
    return load


load_ring = _toy_loader("ring")
load_grid = _toy_loader("grid")
load_spiral = _toy_loader("spiral")
load_moons = _toy_loader("moons")
