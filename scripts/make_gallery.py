"""Draw the figures in ``docs/gallery/``: anyone can rerun this and get the same pictures.

    python scripts/make_gallery.py --runs ~/gallery-runs       # every figure, into docs/gallery/
    python scripts/make_gallery.py --quick --out /tmp/g         # tiny runs, for CI and tests (a minute)
    python scripts/make_gallery.py --runs DIR --only cgan_progress.png   # one figure
    python scripts/make_gallery.py --list                       # the figures this script promises
    python scripts/make_gallery.py --runs ~/gallery-runs --table  # the runs' metrics, as Markdown

Two kinds of figure:

* **Diagrams** drawn by code, from the networks ganlab really builds (this file):
  ``gan_data_flow.png`` (noise -> G -> image -> D -> one logit), ``cgan_data_flow.png`` (noise *
  E_G[label] -> G, and image * E_D[label] -> D) and ``training_step.png`` (D on a real batch, D on a
  fake batch, then G through D with D frozen).
* **Reference results** from full runs (``gallery_results.py``): for cgan and gan at the tutorial's
  20 000 steps and for each zoo variant at 5 000, the progress strip, the final grid and the loss
  curves; real-vs-fake pictures; cgan's learned label embeddings; ``ganlab compare`` reports.

The runs live in the ``--runs`` folder: a finished run there is reused, a missing one is trained
(one at a time; the full set takes a few hours on a 2-core CPU, so the committed images are
regenerated only by hand). ``--quick`` trains every run for a few dozen steps in a temporary folder:
the pictures are then noise, but every function runs.

Each figure is one function that returns a :class:`matplotlib.figure.Figure` (no pyplot: no global
state, no GUI backend), registered in :data:`FIGURES`.
"""
from __future__ import annotations

import argparse
import functools
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from PIL import Image

from ganlab.files import atomic_save

import gallery_results as results
from gallery_results import Runs

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "gallery"
DPI = 100  # figures are sized in inches for this resolution: 10 inches = 1000 pixels

# One colour per kind of thing, the same in every diagram.
COLOURS = {
    "data": "#e8eef7",  # tensors: noise, images, labels
    "G": "#fde2c4",  # the generator (orange, as G's loss curve in loss_curve.png)
    "D": "#cfe3f5",  # the discriminator (blue, as D's loss curve)
    "embedding": "#e2d4f0",  # learned label embeddings
    "loss": "#f6d5d5",  # losses
    "frozen": "#e4e4e4",  # a network whose weights do not change in this update
}
TEXT_SIZE = 11  # points: legible at the saved size (a 1000-pixel-wide PNG shown at 100 %)
SMALL_TEXT = 9.5


# ------------------------------------------------------------------------------------------------
# Drawing helpers: a diagram is boxes and arrows on axes measured in inches, so sizes are real.
# ------------------------------------------------------------------------------------------------
def canvas(width: float, height: float, title: str) -> tuple[Figure, object]:
    """A blank figure ``width`` x ``height`` inches whose axes count in inches from the bottom left."""
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.text(0.2, height - 0.3, title, fontsize=13, fontweight="bold", va="center")
    return fig, ax


def box(ax, x: float, y: float, w: float, h: float, text: str, colour: str, size: float = TEXT_SIZE,
        dashed: bool = False) -> tuple[float, float, float, float]:
    """A rounded box with centred text; returns (x, y, w, h) so arrows can find its edges."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="#555555", linewidth=1.2,
                                linestyle="--" if dashed else "-"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, linespacing=1.3)
    return x, y, w, h


def arrow(ax, start: tuple[float, float], end: tuple[float, float], label: str = "",
          colour: str = "#333333", style: str = "-|>", dashed: bool = False, label_offset: float = 0.15) -> None:
    """An arrow from ``start`` to ``end`` with an optional label above its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14, color=colour,
                                 linewidth=1.5, linestyle="--" if dashed else "-", shrinkA=2, shrinkB=2))
    if label:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + label_offset, label, ha="center",
                va="bottom", fontsize=SMALL_TEXT, color=colour)


def right(b) -> tuple[float, float]:
    return b[0] + b[2], b[1] + b[3] / 2


def left(b) -> tuple[float, float]:
    return b[0], b[1] + b[3] / 2


def top(b) -> tuple[float, float]:
    return b[0] + b[2] / 2, b[1] + b[3]


def bottom(b) -> tuple[float, float]:
    return b[0] + b[2] / 2, b[1]


def vector_strip(ax, x: float, y: float, w: float, h: float, values: np.ndarray, cmap: str = "RdBu_r") -> None:
    """A vector drawn as a row of coloured cells (red positive, blue negative), as tutorial 3 colours them."""
    limit = float(np.abs(values).max()) or 1.0
    ax.imshow(values[None, :], cmap=cmap, vmin=-limit, vmax=limit, extent=(x, x + w, y, y + h),
              aspect="auto", interpolation="nearest", zorder=3)
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="square,pad=0", fill=False, edgecolor="#555555",
                                linewidth=0.8, zorder=4))


def digit_tile(ax, x: float, y: float, size: float, digit: str, caption: str = "") -> None:
    """A stand-in for a 28x28 MNIST image: a white digit on black, with a caption under it."""
    ax.add_patch(FancyBboxPatch((x, y), size, size, boxstyle="square,pad=0", facecolor="black",
                                edgecolor="#555555", zorder=3))
    ax.text(x + size / 2, y + size / 2, digit, color="white", fontsize=size * 40, ha="center",
            va="center", fontweight="bold", zorder=4)
    if caption:
        ax.text(x + size / 2, y - 0.08, caption, ha="center", va="top", fontsize=SMALL_TEXT)


# ------------------------------------------------------------------------------------------------
# The figures
# ------------------------------------------------------------------------------------------------
def gan_data_flow(runs: Runs) -> Figure:
    """The plain GAN, as ``plugins/gan.py`` builds it: noise -> G -> image -> D -> one logit."""
    fig, ax = canvas(10.5, 4.5, "The plain GAN (--variant gan): data flow")
    rng = np.random.default_rng(0)

    # Noise z, 100 numbers from N(0, 1).
    vector_strip(ax, 0.3, 2.55, 1.4, 0.28, rng.standard_normal(25))
    ax.text(1.0, 3.0, "noise z\n100 numbers ~ N(0, 1)", ha="center", va="bottom", fontsize=SMALL_TEXT)
    g = box(ax, 2.15, 2.2, 2.1, 1.0, "generator G\nMLP 100 → 256 → 512\n→ 1024 → 784, tanh", COLOURS["G"])
    arrow(ax, (1.75, 2.7), left(g))

    digit_tile(ax, 4.75, 2.3, 0.8, "7", "fake image\n1 × 28 × 28\nin [-1, 1]")
    arrow(ax, right(g), (4.72, 2.7))
    digit_tile(ax, 4.75, 0.85, 0.8, "3", "real image from MNIST\n(x − 127.5) / 127.5")

    d = box(ax, 6.35, 1.35, 2.1, 1.1, "discriminator D\nflatten 784 → 512\n→ 512 → 512 → 1", COLOURS["D"])
    arrow(ax, (5.6, 2.7), (6.33, 2.05))
    arrow(ax, (5.6, 1.25), (6.33, 1.65))
    out = box(ax, 8.85, 1.45, 1.45, 0.9, "one logit s\nP(real) = σ(s)", COLOURS["data"])
    arrow(ax, right(d), left(out))

    ax.text(0.3, 0.95, "G never sees a real image:\nit learns only from D's verdicts\non its fakes.",
            fontsize=SMALL_TEXT, va="center", style="italic")
    ax.text(6.35, 0.55, "LeakyReLU(0.2) in both networks; BatchNorm in G only;\n"
            "Dropout(0.4) in D's last two hidden layers; no sigmoid in D\n"
            "(the loss applies it in a form that cannot overflow)", fontsize=8.5, va="center")
    return fig


def cgan_data_flow(runs: Runs) -> Figure:
    """The tutorial's cGAN, as ``plugins/cgan.py`` builds it: the label enters by multiplication."""
    fig, ax = canvas(10.5, 5.6, "The tutorial's cGAN (--variant cgan): the label multiplies both inputs")
    rng = np.random.default_rng(1)
    top_row, bottom_row = 4.1, 1.75  # the centre lines of G's row and D's row

    # The label y, shared by both sides.
    y_box = box(ax, 0.3, (top_row + bottom_row) / 2 - 0.38, 1.0, 0.75, "label y\ne.g. 7", COLOURS["data"])

    # Generator side: noise ⊙ E_G[y] -> G -> fake image.
    noise = rng.standard_normal(25)
    vector_strip(ax, 1.9, top_row + 0.25, 1.4, 0.26, noise)
    ax.text(2.6, top_row + 0.58, "noise z (100)", ha="center", va="bottom", fontsize=SMALL_TEXT)
    e_g = box(ax, 1.7, top_row - 0.75, 1.8, 0.6, "E_G = Embedding(10, 100)", COLOURS["embedding"],
              size=SMALL_TEXT)
    arrow(ax, top(y_box), left(e_g))
    ax.text(4.0, top_row, "⊙", fontsize=22, ha="center", va="center")
    arrow(ax, (3.32, top_row + 0.38), (3.85, top_row + 0.1))
    arrow(ax, right(e_g), (3.85, top_row - 0.1))
    vector_strip(ax, 4.35, top_row - 0.13, 1.4, 0.26, noise * rng.uniform(-1, 1, 25))
    ax.text(5.05, top_row + 0.2, "z ⊙ E_G[y] (100)", ha="center", va="bottom", fontsize=SMALL_TEXT)
    arrow(ax, (4.15, top_row), (4.33, top_row), style="-")
    g = box(ax, 6.15, top_row - 0.5, 1.8, 1.0, "generator G\nthe plain GAN's MLP", COLOURS["G"])
    arrow(ax, (5.77, top_row), left(g))
    digit_tile(ax, 8.45, top_row - 0.4, 0.8, "7", "fake image, meant to be a 7")
    arrow(ax, right(g), (8.42, top_row))

    # Discriminator side: flatten(image) ⊙ E_D[y] -> D -> real or fake?
    digit_tile(ax, 1.95, bottom_row - 1.0, 0.8, "7", "a real image, or G's fake\nwith the label G was asked for")
    e_d = box(ax, 1.7, bottom_row + 0.15, 1.8, 0.6, "E_D = Embedding(10, 784)", COLOURS["embedding"],
              size=SMALL_TEXT)
    arrow(ax, bottom(y_box), left(e_d))
    ax.text(4.0, bottom_row, "⊙", fontsize=22, ha="center", va="center")
    arrow(ax, (2.78, bottom_row - 0.5), (3.85, bottom_row - 0.1))
    arrow(ax, right(e_d), (3.85, bottom_row + 0.1))
    vector_strip(ax, 4.35, bottom_row - 0.13, 1.4, 0.26, rng.uniform(-1, 1, 25))
    ax.text(5.05, bottom_row + 0.2, "flatten(x) ⊙ E_D[y] (784)", ha="center", va="bottom", fontsize=SMALL_TEXT)
    ax.text(5.05, bottom_row - 0.25, "E_D[y]: a learned\npixel mask per digit", ha="center", va="top",
            fontsize=SMALL_TEXT)
    arrow(ax, (4.15, bottom_row), (4.33, bottom_row), style="-")
    d = box(ax, 6.15, bottom_row - 0.5, 1.8, 1.0, "discriminator D\nthe plain GAN's MLP", COLOURS["D"])
    arrow(ax, (5.77, bottom_row), left(d))
    out = box(ax, 8.45, bottom_row - 0.45, 1.75, 0.9, "one logit: a real\nexample of digit y?", COLOURS["data"],
              size=SMALL_TEXT)
    arrow(ax, right(d), left(out))
    ax.text(0.3, 0.18, "⊙ = element-wise product. Keras starts both embeddings uniform in [−0.05, 0.05]; "
            "so does ganlab (--set init=keras, the default).", fontsize=8.5)
    return fig


def training_step(runs: Runs) -> Figure:
    """One step of ``ganlab.trainer.train_step`` for gan/cgan (``d_update="separate"``)."""
    fig, ax = canvas(11.5, 4.9, "One training step (ganlab.trainer.train_step), for gan and cgan")
    gradient = "#b03030"
    panels = [
        ("1. D on a real batch", "real batch x, y\n32 MNIST images", "target 1 (real)\nloss −log σ(s)",
         "Adam step on D"),
        ("2. D on a fake batch", "fake = G(z, y′)\nfake.detach()", "target 0 (fake)\nloss −log(1 − σ(s))",
         "Adam step on D"),
        ("3. G through D", "the same fakes,\nnot detached", "target 1: ‘call it real’\nloss −log σ(s)",
         "Adam step on G"),
    ]
    width = 3.55
    for i, (title, source, loss_text, update) in enumerate(panels):
        g_step = i == 2
        x0 = 0.3 + i * (width + 0.15)
        ax.add_patch(FancyBboxPatch((x0, 0.35), width, 3.75, boxstyle="round,pad=0,rounding_size=0.1",
                                    facecolor="white", edgecolor="#999999", linewidth=1))
        ax.text(x0 + 0.15, 3.85, title, fontsize=12, fontweight="bold", va="center")
        src = box(ax, x0 + 0.15, 2.75, 1.45, 0.75, source, COLOURS["data"] if i == 0 else COLOURS["G"],
                  size=SMALL_TEXT)
        if g_step:
            d = box(ax, x0 + 1.85, 2.75, 1.55, 0.75, "D, frozen:\nrequires_grad_(False)", COLOURS["frozen"],
                    size=8.5, dashed=True)
        else:
            d = box(ax, x0 + 1.85, 2.75, 1.55, 0.75, "D", COLOURS["D"])
        arrow(ax, right(src), left(d))
        loss = box(ax, x0 + 1.7, 1.55, 1.7, 0.75, loss_text, COLOURS["loss"], size=SMALL_TEXT)
        arrow(ax, bottom(d), top(loss))
        box(ax, x0 + 0.15, 0.55, width - 0.3, 0.6, update, COLOURS["G"] if g_step else COLOURS["D"])
        # Where the gradient goes: into D's weights (1, 2), or through D and the fakes into G (3).
        if g_step:
            arrow(ax, (x0 + 2.1, 2.73), (x0 + 1.2, 2.73), colour=gradient, dashed=True)
            arrow(ax, (x0 + 0.75, 2.73), (x0 + 0.75, 1.17), colour=gradient, dashed=True)
            ax.text(x0 + 0.85, 1.9, "gradient\nthrough D\ninto G", color=gradient, fontsize=SMALL_TEXT,
                    va="center")
        else:
            arrow(ax, (x0 + 1.68, 1.8), (x0 + 1.0, 1.17), colour=gradient, dashed=True)
            ax.text(x0 + 0.25, 1.75, "gradient\ninto D", color=gradient, fontsize=SMALL_TEXT, va="center")
    ax.text(0.3, 0.14, "gan and cgan keep the tutorial's two D updates (two train_on_batch calls); "
            "--d-update joint takes one Adam step on the sum of 1 and 2.  z ~ N(0, 1); y′: fresh random labels.",
            fontsize=8.5, va="center")
    return fig


# Every figure the gallery holds: file name -> the function that draws it, given the reference runs. A
# function returns a Figure, or the pixels of a picture that is already an image (a run's own PNGs).
FIGURES: dict[str, Callable[[Runs], Figure | np.ndarray]] = {
    "gan_data_flow.png": gan_data_flow,
    "cgan_data_flow.png": cgan_data_flow,
    "training_step.png": training_step,
    "cgan_real_vs_fake.png": lambda runs: results.real_vs_fake(runs, "cgan"),
    "gan_real_vs_fake.png": lambda runs: results.real_vs_fake(runs, "gan"),
    "cgan_embeddings.png": lambda runs: results.embeddings(runs, "cgan"),
    "report_gan_vs_cgan.png": lambda runs: results.report(runs, ["gan", "cgan"]),
    "report_zoo.png": lambda runs: results.report(runs, results.ZOO),
}
for _name in results.REFERENCES:  # three figures of every reference run
    FIGURES[f"{_name}_progress.png"] = functools.partial(results.progress, name=_name)
    FIGURES[f"{_name}_final_grid.png"] = functools.partial(results.final_grid, name=_name)
    FIGURES[f"{_name}_losses.png"] = functools.partial(results.losses, name=_name)


def save(drawn: Figure | np.ndarray, path: Path, small: bool = True) -> Path:
    """Write a figure, or pixels (floats in 0..1), as a PNG, atomically.

    ``small``: reduce the picture to a palette of at most 256 colours and compress it harder. Line
    plots and greyscale digits lose nothing visible, and the file shrinks to a third or less, which
    matters for images the repository carries; it takes a few seconds, which quick mode (whose
    pictures nobody keeps) saves. (Pillow comes with matplotlib, which writes its PNGs with it.)
    """
    if isinstance(drawn, Figure):
        buffer = io.BytesIO()
        drawn.savefig(buffer, format="png", dpi=DPI)
        picture = Image.open(buffer)
    else:
        picture = Image.fromarray((np.clip(drawn[..., :3], 0, 1) * 255).round().astype(np.uint8))
    if small:
        picture = picture.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    atomic_save(path, lambda handle: picture.save(handle, format="png", optimize=small))
    return path


def make_gallery(out: Path, runs: Runs, only: list[str] | None = None) -> list[Path]:
    """Draw every figure (or those in ``only``) into ``out``; returns the paths written."""
    unknown = sorted(set(only or []) - set(FIGURES))
    if unknown:
        raise SystemExit(f"Unknown figure(s) {', '.join(unknown)}. Known: {', '.join(FIGURES)}.")
    written = []
    for name, draw in FIGURES.items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        written.append(save(draw(runs), out / name, small=not runs.quick))
        print(f"wrote {written[-1]} ({written[-1].stat().st_size / 1024:.0f} KB, "
              f"{time.perf_counter() - started:.1f} s)", flush=True)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder to write into [{DEFAULT_OUT}]")
    parser.add_argument("--runs", type=Path, help="folder of the reference runs: finished ones are reused, missing "
                        "ones trained into it [a temporary folder with --quick; required otherwise]")
    parser.add_argument("--quick", action="store_true", help=f"train every run {results.QUICK_STEPS} steps (CI)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="draw only these figures")
    parser.add_argument("--list", action="store_true", help="print the figure names and exit")
    parser.add_argument("--table", action="store_true", help="print the runs' final metrics as Markdown and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(FIGURES))
        return 0
    unknown = sorted(set(args.only or []) - set(FIGURES))
    if unknown:  # before anything is trained
        parser.error(f"Unknown figure(s) {', '.join(unknown)}. Known: {', '.join(FIGURES)}.")
    if args.runs is None and not args.quick:
        parser.error("--runs DIR is required: the full-budget runs take hours, so keep them in a folder "
                     "of your choice (outside the repository), where a later call reuses them")
    with tempfile.TemporaryDirectory(prefix="gallery-runs-") as scratch:
        runs = results.Runs(args.runs or Path(scratch), args.quick)
        if args.table:
            print(results.metrics_table(runs))
        else:
            make_gallery(args.out, runs, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
