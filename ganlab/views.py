"""GAN Lab's views of a 2-D GAN (Kahng et al., IEEE VIS 2018), for any generator and discriminator.

One *frame* shows, at one training step:

* the real points and the generated (fake) points, coloured by label in conditional runs;
* **what D believes**: the discriminator's output over a grid covering the plane, as a heat map
  (green: "real", purple: "fake", GAN Lab's colours);
* **what G does**: the generator's manifold, the image G(z) of a grid of latent points, drawn as a
  deformed mesh (each cell holds the same probability mass, so a small cell is a dense region);
* **where G is pushed**: at each fake point x, the arrow −∂L_G/∂x, the direction in which moving that
  point lowers the generator's loss L_G (the variant's own loss, through D).

:func:`compute_frame` computes a frame's data from plain callables and tensors (one batched forward
per view); :class:`ViewPainter` draws frames on one reused matplotlib Figure; :class:`ViewRecorder`
saves PNG frames as training goes and, at the end, a GIF and a self-contained HTML player
(:mod:`ganlab.view_player`).
"""
from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.animation import PillowWriter
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure  # a Figure without pyplot: no GUI, no global state

from ganlab.data import Modes
from ganlab.files import atomic_path, atomic_save
from ganlab.hookspecs import adversarial_scores
from ganlab.mode_metrics import mode_metrics
from ganlab.view_player import PlayerFrame, save_player

VIEW_LIMIT = 1.05  # the views cover [-1.05, 1.05]²: all of tanh's range, whatever the data
HEATMAP_RESOLUTION = 64  # grid points per side of D's heat map
MANIFOLD_SIZE = 21  # latent grid points per side of G's manifold
FAST_PNG = {"compress_level": 1}  # zlib's fastest level: a frame encodes several times faster, ~1.5x larger
REAL_COLOUR, FAKE_COLOUR = "#1b7837", "#762a83"  # GAN Lab's green (real) and purple (fake)


@dataclass
class Frame:
    """The data of one frame, as numpy arrays (small: about 30 KB for 500 fake points)."""

    step: int
    real: np.ndarray  # (R, 2) real points
    real_labels: np.ndarray  # (R,)
    fake: np.ndarray  # (F, 2) generated points
    fake_labels: np.ndarray  # (F,) the labels they were generated for
    descent: np.ndarray  # (F, 2) −∂L_G/∂x at each fake point: the way G's loss goes down
    d_map: np.ndarray  # (H, W) D's output on the grid; row i is y_i, column j is x_j
    manifold: np.ndarray  # (L, A, B, 2) G's image of the latent grid for each of L labels (L = 1
    #                       unconditional; B = 1 for a 1-D latent space)
    d_output: str = "probability"  # "probability": sigmoid(D) in [0, 1]; "score": D's raw output
    conditional: bool = False
    metrics: dict = field(default_factory=dict)  # mode metrics of the fake points (may be empty)
    limit: float = VIEW_LIMIT  # the plane shown is [-limit, limit]²


# --- computing a frame ---------------------------------------------------------------------------


def latent_plane(latent_dim: int, size: int = MANIFOLD_SIZE, seed: int = 0) -> torch.Tensor:
    """A fixed grid of latent points whose image under G is the manifold view: (size, size, Z).

    The grid's coordinates a, b are quantiles of N(0, 1), Φ⁻¹((i + ½) / size), so every cell holds the
    same probability mass. For a 2-D latent space the grid is z = (a, b): the whole latent
    distribution. For Z > 2 it is the plane z = z₀ + a·u + b·v through one typical latent point z₀,
    spanned by two random orthonormal directions u, v (z₀ has no component along them, so a and b
    are distributed as N(0, 1) on it). The plane through z = 0 would be a poor choice: in many
    dimensions typical latents have norm about √Z, and G has never seen points near 0. For Z = 1 it
    is a line, shape (size, 1, 1). ``seed`` fixes z₀, u and v, so every frame shows the same plane.
    """
    quantiles = torch.special.ndtri((torch.arange(size, dtype=torch.float64) + 0.5) / size)
    if latent_dim == 1:
        return quantiles.view(size, 1, 1).float()
    a, b = torch.meshgrid(quantiles, quantiles, indexing="ij")
    if latent_dim == 2:
        return torch.stack([a, b], dim=-1).float()
    rng = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(latent_dim, 2, generator=rng, dtype=torch.float64))
    z0 = torch.randn(latent_dim, generator=rng, dtype=torch.float64)
    z0 = z0 - basis @ (basis.T @ z0)  # remove the plane's own directions
    return (z0 + a[..., None] * basis[:, 0] + b[..., None] * basis[:, 1]).float()


def plane_grid(resolution: int = HEATMAP_RESOLUTION, limit: float = VIEW_LIMIT) -> torch.Tensor:
    """The heat map's grid points (resolution², 2), row-major with y as the row: point i·W + j is (x_j, y_i)."""
    ticks = torch.linspace(-limit, limit, resolution)
    y, x = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)


@contextlib.contextmanager
def evaluation_mode(*networks) -> Iterator[None]:
    """Switch the networks that are ``nn.Module``s to eval mode (no dropout; batch norm uses its
    running statistics, as ganlab's samples do), then restore each one's own mode."""
    modules = [n for n in networks if isinstance(n, torch.nn.Module)]
    was_training = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, was_training):
            m.train(mode)


def compute_frame(
    generator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor | tuple],
    latent: torch.Tensor,
    labels: torch.Tensor,
    generator_loss: Callable[[torch.Tensor | tuple], torch.Tensor],
    real_points: torch.Tensor,
    real_labels: torch.Tensor,
    step: int,
    *,
    conditional: bool = False,
    num_classes: int | None = None,
    manifold_latent: torch.Tensor | None = None,
    d_output: str = "probability",
    modes: Modes | None = None,
    metrics: dict | None = None,
    resolution: int | None = None,
    limit: float = VIEW_LIMIT,
) -> Frame:
    """Compute one frame's data. Networks that are ``nn.Module``s run in eval mode for it, and their
    parameters' gradients are left untouched.

    :param generator: ``generator(latent, labels) -> points (N, 2)``.
    :param discriminator: ``discriminator(points, labels) -> logits (N,)``, or a tuple whose first
        item is the logits (the rest, e.g. class logits, is passed on to ``generator_loss``).
    :param latent: the fake points' latent vectors (F, Z); keep them fixed across frames.
    :param labels: the labels the fake points are generated for (F,) int64.
    :param generator_loss: ``generator_loss(scores) -> scalar``: the variant's own G loss of D's output
        (a mean over the batch); its gradient with respect to each fake point gives the arrows.
    :param real_points: real points to show (R, 2), with ``real_labels`` (R,).
    :param conditional: D and G use the labels. D's heat map is then D's output averaged over the
        labels, weighted by how often each label occurs among ``real_labels``:
        Σ_k π_k · sigmoid(D(x, k)), the chance D calls x real for a label drawn like the data's.
        (Per-label maps would be one panel per mode: 25 for the grid.)
    :param num_classes: the labels the heat map averages over (default: 1 + the largest real label).
    :param manifold_latent: the latent grid (A, B, Z) of the manifold view; default
        :func:`latent_plane` for the latent's Z. Conditional runs get one mesh per label, G(·, k).
        (Keep A small, e.g. 11, when there are many labels.)
    :param d_output: ``"probability"``: sigmoid of D's logits, on a fixed 0-1 scale (GAN Lab's view,
        for D's trained with BCE); ``"score"``: the raw output, for critics (WGAN-GP, hinge) whose
        scores are not log-odds.
    :param modes: the data's modes: the frame's fake points are then judged with
        :func:`ganlab.mode_metrics.mode_metrics`, unless ``metrics`` gives numbers to show instead.
    :param resolution: grid points per side of the heat map. Default 64; for a conditional D, which
        is evaluated once per label, 64·2/√K (45 for the ring's 8 labels, 25 for the grid's 25), so
        the map costs at most 4 unconditional ones.
    """
    if d_output not in ("probability", "score"):
        raise ValueError(f'd_output must be "probability" or "score", not {d_output!r}')
    device = latent.device
    if resolution is None:
        labels_seen = max(num_classes or 0, int(real_labels.max()) + 1 if len(real_labels) else 1)
        resolution = heatmap_resolution(labels_seen if conditional else 1)
    if manifold_latent is None:
        manifold_latent = latent_plane(latent.shape[1])
    with evaluation_mode(generator, discriminator):
        with torch.no_grad():
            fake = generator(latent, labels)
            if fake.ndim != 2 or fake.shape[1] != 2:
                raise ValueError(f"the views draw 2-D points, but the generator made samples of shape "
                                 f"{tuple(fake.shape)}; expected ({len(latent)}, 2)")
            manifold = _manifold(generator, manifold_latent.to(device), real_labels, conditional, num_classes)
            d_map = _d_map(discriminator, real_labels, conditional, num_classes, d_output, resolution,
                           limit, device)
        descent = _loss_descent(discriminator, generator_loss, fake, labels)
    if metrics is None:
        metrics = mode_metrics(fake, modes.centres, modes.sigma, labels if conditional else None) \
            if modes is not None else {}
    return Frame(step=int(step), real=_numpy(real_points).astype(np.float32), real_labels=_numpy(real_labels),
                 fake=_numpy(fake), fake_labels=_numpy(labels), descent=_numpy(descent),
                 d_map=_numpy(d_map).reshape(resolution, resolution), manifold=_numpy(manifold),
                 d_output=d_output, conditional=conditional, metrics=metrics, limit=limit)


def heatmap_resolution(num_labels: int) -> int:
    """The heat map's grid points per side: D is evaluated 64² times per label, at most 4 · 64² in all."""
    return min(HEATMAP_RESOLUTION, int(2 * HEATMAP_RESOLUTION / num_labels ** 0.5))


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _manifold(generator, plane, real_labels, conditional, num_classes) -> torch.Tensor:
    """G's image of the latent grid (A, B, Z): (1, A, B, 2), or (K, A, B, 2) with one mesh per label."""
    size_a, size_b, latent_dim = plane.shape
    flat = plane.reshape(-1, latent_dim)
    k = max(num_classes or 0, int(real_labels.max()) + 1 if len(real_labels) else 1) if conditional else 1
    labels = torch.arange(k, device=flat.device).repeat_interleave(len(flat))
    points = generator(flat.repeat(k, 1), labels)
    return points.view(k, size_a, size_b, -1)


def _d_map(discriminator, real_labels, conditional, num_classes, d_output, resolution, limit, device):
    """D's output at every grid point, in one batched forward (label-averaged when conditional)."""
    grid = plane_grid(resolution, limit).to(device)
    if not conditional:
        logits = adversarial_scores(discriminator(grid, torch.zeros(len(grid), dtype=torch.long, device=device)))
        return torch.sigmoid(logits) if d_output == "probability" else logits
    counts = torch.bincount(real_labels.to(device), minlength=num_classes or 0).double()
    weights = counts / counts.sum()  # π_k: how often label k occurs
    k = len(weights)
    points = grid.repeat(k, 1)  # label 0 for every grid point, then label 1, ...
    labels = torch.arange(k, device=device).repeat_interleave(len(grid))
    logits = adversarial_scores(discriminator(points, labels)).view(k, len(grid)).double()
    values = torch.sigmoid(logits) if d_output == "probability" else logits
    return (weights[:, None] * values).sum(dim=0).float()


def _loss_descent(discriminator, generator_loss, fake, labels) -> torch.Tensor:
    """−∂L_G/∂x at each fake point x (the points are leaves here, so only their gradient is taken)."""
    points = fake.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = generator_loss(discriminator(points, labels))
        if not loss.requires_grad:  # D does not look at the points (a constant): no push at all
            return torch.zeros_like(points)
        (gradient,) = torch.autograd.grad(loss, points, allow_unused=True)
    return -gradient if gradient is not None else torch.zeros_like(points)


# --- drawing -------------------------------------------------------------------------------------


class ViewPainter:
    """Draws frames on one Figure made once: each frame only changes its artists' data.

    Two panels: *what D believes* (D's heat map, the real and fake points, the arrows) and *what G
    does* (G's manifold mesh over the same points). Above them, the step and the mode metrics.
    Arrows are scaled per frame so that the 90th-percentile arrow is 0.12 long (longer ones are
    clipped to twice that): their directions and relative lengths are what to read.
    """

    def __init__(self, title: str = "", num_classes: int = 1, dpi: int = 80, size=(9.0, 5.2)):
        self.title, self.num_classes, self.dpi = title, num_classes, dpi
        self.figure = Figure(figsize=size, dpi=dpi)
        self.d_axes, self.g_axes = self.figure.subplots(1, 2)
        self.figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.80, wspace=0.05)
        self._artists: dict = {}

    def draw(self, frame: Frame) -> None:
        """Put ``frame`` on the figure (rendering happens when it is saved)."""
        if not self._artists:
            if frame.conditional:
                self.num_classes = max(self.num_classes, len(frame.manifold), int(frame.real_labels.max()) + 1)
            self._make_artists(frame)
        a = self._artists
        a["heat"].set_data(frame.d_map)
        if frame.d_output == "score":  # a critic's scores have no fixed scale: centre 0, symmetric
            top = float(np.percentile(np.abs(frame.d_map), 98)) or 1.0
            a["heat"].set_clim(-top, top)
        for panel in ("d", "g"):
            a[f"real_{panel}"].set_offsets(frame.real)
            a[f"fake_{panel}"].set_offsets(frame.fake)
            if frame.conditional:
                a[f"real_{panel}"].set_array(frame.real_labels)
                a[f"fake_{panel}"].set_array(frame.fake_labels)
        if a["arrows"].N != len(frame.fake):  # a quiver's arrow count is fixed: remake it
            a["arrows"].remove()
            a["arrows"] = self._make_quiver(frame)
        a["arrows"].set_offsets(frame.fake)
        a["arrows"].set_UVC(*scaled_arrows(frame.descent).T)
        lines, owners = mesh_lines(frame.manifold)
        a["mesh"].set_segments(lines)
        if frame.conditional:
            a["mesh"].set_array(owners)
        a["heading"].set_text(f"{self.title}  step {frame.step}".strip())
        a["numbers"].set_text(describe_metrics(frame.metrics))

    def png_bytes(self, frame: Frame) -> bytes:
        """The frame as PNG bytes."""
        self.draw(frame)
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=self.dpi, pil_kwargs=FAST_PNG)
        return buffer.getvalue()

    def save_png(self, frame: Frame, path: str | os.PathLike) -> None:
        """Draw ``frame`` and write it to ``path`` as a PNG, atomically."""
        self.draw(frame)
        atomic_save(path, lambda handle: self.figure.savefig(handle, format="png", dpi=self.dpi,
                                                             pil_kwargs=FAST_PNG))

    def _make_artists(self, frame: Frame) -> None:
        lim = frame.limit
        d_ax, g_ax = self.d_axes, self.g_axes
        a = self._artists
        probability = frame.d_output == "probability"
        a["heat"] = d_ax.imshow(frame.d_map, origin="lower", extent=(-lim, lim, -lim, lim), cmap="PRGn",
                                vmin=0 if probability else -1, vmax=1, alpha=0.55, interpolation="bilinear")
        shading = ("green: D says real, purple: D says fake" if probability
                   else "D's score: green high, purple low")
        d_ax.set_title(f"what D believes ({shading})\nand where G's loss pushes each generated point",
                       fontsize=9)
        g_ax.set_title("what G does:\nthe image of a grid of latent points", fontsize=9)
        if frame.conditional:  # one mesh per label, in the label's colour
            a["mesh"] = LineCollection([], cmap=self._label_cmap(), linewidths=0.6, alpha=0.6)
            a["mesh"].set_clim(0, max(self.num_classes - 1, 1))
        else:
            a["mesh"] = LineCollection([], colors=FAKE_COLOUR, linewidths=0.6, alpha=0.6)
        g_ax.add_collection(a["mesh"])
        for panel, ax in (("d", d_ax), ("g", g_ax)):
            a[f"real_{panel}"] = self._scatter(ax, frame.real, frame.real_labels, frame.conditional, real=True)
            a[f"fake_{panel}"] = self._scatter(ax, frame.fake, frame.fake_labels, frame.conditional, real=False)
            ax.set_xlim(-lim, lim), ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xticks([]), ax.set_yticks([])  # the plane is [-limit, limit]²; tick labels are slow text
        a["arrows"] = self._make_quiver(frame)
        d_ax.legend(loc="lower right", fontsize=7, markerscale=1.5, framealpha=0.8)
        a["heading"] = self.figure.text(0.5, 0.985, "", ha="center", va="top", fontsize=12, weight="bold")
        a["numbers"] = self.figure.text(0.5, 0.935, "", ha="center", va="top", fontsize=10)

    def _scatter(self, ax, points, labels, conditional, real: bool):
        style = dict(s=10, alpha=0.5, marker="o", label="real") if real else \
            dict(s=14, alpha=0.9, marker="x", linewidths=0.9, label="generated")
        if conditional:  # colour by label: the same colour for a mode's real and generated points
            return ax.scatter(points[:, 0], points[:, 1], c=labels, cmap=self._label_cmap(), vmin=0,
                              vmax=max(self.num_classes - 1, 1), **style)
        return ax.scatter(points[:, 0], points[:, 1], color=REAL_COLOUR if real else FAKE_COLOUR, **style)

    def _label_cmap(self) -> str:
        return "tab10" if self.num_classes <= 10 else "tab20" if self.num_classes <= 20 else "turbo"

    def _make_quiver(self, frame: Frame):
        u, v = scaled_arrows(frame.descent).T
        return self.d_axes.quiver(frame.fake[:, 0], frame.fake[:, 1], u, v, angles="xy", scale_units="xy",
                                  scale=1, color="black", alpha=0.6, width=0.0025, headwidth=4)


def scaled_arrows(descent: np.ndarray, typical: float = 0.12) -> np.ndarray:
    """Arrows for drawing: the 90th-percentile length becomes ``typical``, none longer than twice it."""
    lengths = np.linalg.norm(descent, axis=1)
    reference = np.percentile(lengths, 90) if len(lengths) else 0.0
    if not np.isfinite(reference) or reference == 0:
        return np.zeros_like(descent)
    scaled = descent * (typical / reference)
    shrink = np.minimum(1.0, 2 * typical / np.maximum(lengths * (typical / reference), 1e-12))
    return scaled * shrink[:, None]


def mesh_lines(manifold: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The deformed grids as polylines, each row and each column of every (A, B, 2) mesh, and the
    label (mesh index) of each line."""
    lines, owners = [], []
    for label, mesh in enumerate(manifold):
        rows = [mesh[i] for i in range(mesh.shape[0])]
        columns = [mesh[:, j] for j in range(mesh.shape[1])] if mesh.shape[1] > 1 else []
        lines += rows + columns
        owners += [label] * (len(rows) + len(columns))
    return lines, np.array(owners)


def describe_metrics(metrics: dict) -> str:
    """One line of the mode metrics, e.g. ``modes covered 6/8 · high-quality 87.1 % · KL 0.21``."""
    if not metrics:
        return ""
    parts = [f"modes covered {metrics['modes_covered']}/{metrics['num_modes']}",
             f"high-quality samples {100 * metrics['high_quality_fraction']:.1f} %"]
    if metrics.get("mode_kl") is not None:
        parts.append(f"KL(modes ‖ uniform) {metrics['mode_kl']:.2f}")
    if metrics.get("conditional_accuracy") is not None:
        parts.append(f"on the asked mode {100 * metrics['conditional_accuracy']:.1f} %")
    return "  ·  ".join(parts)


# --- files: PNG frames, the GIF, the HTML player -------------------------------------------------


def save_gif(frames: Sequence[Frame], path: str | os.PathLike, painter: ViewPainter, fps: float = 5,
             dpi: float | None = None) -> None:
    """An animated GIF of ``frames`` through matplotlib's Pillow writer (one frame per frame), atomically.

    ``dpi`` (default: the painter's) sets its size: the writer draws each frame again, then Pillow
    reduces it to 256 colours, both in proportion to the pixels.
    """
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    writer = PillowWriter(fps=fps)
    with atomic_path(path) as temporary:
        with writer.saving(painter.figure, temporary, dpi or painter.dpi):
            for frame in frames:
                painter.draw(frame)
                writer.grab_frame()


def evenly_spaced(items: Sequence, most: int) -> list:
    """At most ``most`` items, evenly spaced, always keeping the first and the last."""
    if len(items) <= most:
        return list(items)
    picks = np.unique(np.linspace(0, len(items) - 1, most).round().astype(int))
    return [items[i] for i in picks]


class ViewRecorder:
    """A run's views: a PNG per frame as training goes; at the end a GIF and an HTML player.

    The frames' data (about 30 KB each) stays in memory for the GIF, which matplotlib's writer draws
    once more at the end; the player embeds the PNGs already written.
    """

    def __init__(self, frames_folder: str | os.PathLike, painter: ViewPainter, max_gif_frames: int = 100,
                 gif_dpi: float | None = None):
        self.folder = Path(frames_folder)
        self.painter = painter
        self.max_gif_frames = max_gif_frames
        self.gif_dpi = gif_dpi
        self.frames: list[Frame] = []
        self.png_paths: list[Path] = []

    def add(self, frame: Frame) -> Path:
        """Save ``frame`` as ``step_0001234.png`` in the frames folder; return that path."""
        path = self.folder / f"step_{frame.step:07d}.png"
        self.painter.save_png(frame, path)
        self.frames.append(frame)
        self.png_paths.append(path)
        return path

    def finish(self, gif_path: str | os.PathLike, html_path: str | os.PathLike, fps: float = 5) -> None:
        """Write the GIF (at most ``max_gif_frames`` frames, evenly spaced) and the HTML player (all)."""
        if not self.frames:
            return
        save_gif(evenly_spaced(self.frames, self.max_gif_frames), gif_path, self.painter, fps, self.gif_dpi)
        pages = [PlayerFrame(f.step, describe_metrics(f.metrics), p.read_bytes())
                 for f, p in zip(self.frames, self.png_paths)]
        save_player(html_path, pages, self.painter.title, fps)
