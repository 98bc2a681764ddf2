"""Reference results for ``docs/gallery/``: what each run looks like at its full budget.

The reference runs, their budgets, and one function per kind of figure. ``make_gallery.py`` registers
the figures and decides where the runs live; this module trains a run only when a figure asks for it
and its folder does not hold it yet (so a folder of finished runs is reused as it is).

Budgets (seed 0, batch 32, every other setting the variant's default):

* ``cgan`` and ``gan``: the Keras tutorial's 20 000 steps, an evaluation every 2 000 steps;
* the zoo (``dcgan``, ``wgan-gp``, ``acgan``, ``projection``):
  :data:`ZOO_STEPS` steps each, an evaluation every tenth of that.

``--quick`` trains every run for :data:`QUICK_STEPS` steps instead: the figures are then noise, but
every function runs (that is what CI checks).
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.image import imread

import ganlab
from ganlab.figures import loss_curve_figure
from ganlab.runs import RunFolder
from ganlab.sampling import mosaic, save_grid, to_uint8_images

ZOO_STEPS = 5_000
QUICK_STEPS = 24
SEED = 0
PROGRESS_STEPS = (200, 1_000, 3_000, 6_000, 12_000, 20_000)  # the 20 000-step runs' strip


@dataclass(frozen=True)
class Reference:
    """One reference run: its folder name under ``--runs`` (and the prefix of its figures) and budget."""

    name: str
    variant: str
    steps: int

    def config(self, folder: Path, quick: bool) -> ganlab.RunConfig:
        if quick:  # one evaluation, at the end: the report's curves then have a single point
            return ganlab.RunConfig(variant=self.variant, steps=QUICK_STEPS, seed=SEED, device="cpu", out=str(folder),
                                    final_eval_samples=100, sample_every=8, checkpoint_every=0)
        return ganlab.RunConfig(variant=self.variant, steps=self.steps, seed=SEED, device="cpu", out=str(folder),
                                eval_every=self.steps // 10, eval_samples=2_000, final_eval_samples=10_000,
                                sample_every=200, checkpoint_every=2_000)


REFERENCES = {ref.name: ref for ref in [
    Reference("cgan", "cgan", 20_000),
    Reference("gan", "gan", 20_000),
    Reference("dcgan", "dcgan", ZOO_STEPS),
    Reference("wgan-gp", "wgan-gp", ZOO_STEPS),
    Reference("acgan", "acgan", ZOO_STEPS),
    Reference("projection", "projection", ZOO_STEPS),
]}
ZOO = ["dcgan", "wgan-gp", "acgan", "projection"]


class Runs:
    """The reference runs in one folder: each trained on first use, or reused when already finished."""

    def __init__(self, folder: Path, quick: bool):
        self.folder, self.quick = Path(folder), quick
        self.loaded: dict[str, ganlab.TrainingRun] = {}
        self._mnist = None

    def path(self, name: str) -> Path:
        """The finished run ``name``, trained now if its folder does not exist yet."""
        ref = REFERENCES[name]
        folder = self.folder / name
        config = ref.config(folder, self.quick)
        metrics = folder / "metrics.json"
        if not folder.exists():
            print(f"training {ref.variant} for {config.steps} steps into {folder} ...", flush=True)
            ganlab.train(config, dataset=self.mnist, quiet=True)  # one dataset: the metrics' cache holds
        if not metrics.exists():
            raise SystemExit(f"{folder} holds no finished run (no metrics.json). Let it finish, or remove "
                             f"the folder and run this script again to train it.")
        saved, _, _ = RunFolder.open(folder).read_config()
        if (saved.variant, saved.steps) != (ref.variant, config.steps):
            raise SystemExit(f"{folder} holds a {saved.variant} run of {saved.steps} steps; the gallery needs "
                             f"{ref.variant} at {config.steps}. Use another --runs folder.")
        return folder

    def run(self, name: str) -> ganlab.TrainingRun:
        """The finished run ``name``, loaded from its last checkpoint (on the CPU)."""
        if name not in self.loaded:
            self.loaded[name] = ganlab.load_run(self.path(name))
        return self.loaded[name]

    @property
    def mnist(self) -> ganlab.Dataset:
        """MNIST, loaded once; in quick mode with 1 000 test images, so each evaluation is cheap."""
        if self._mnist is None:
            self._mnist = ganlab.load_dataset("mnist")
            if self.quick:
                self._mnist = dataclasses.replace(self._mnist, x_test=self._mnist.x_test[:1000],
                                                  y_test=self._mnist.y_test[:1000])
        return self._mnist


# ------------------------------------------------------------------------------------------------
# Pictures that are already images (a run's PNGs) are passed on as pixels, never redrawn
# ------------------------------------------------------------------------------------------------
def stack_pictures(pictures: list[np.ndarray], columns: int, gap: int = 12) -> np.ndarray:
    """RGB pictures (floats in 0..1) in rows of ``columns``, white between them."""
    rgb = [p[..., :3] for p in pictures]
    height = max(p.shape[0] for p in rgb)
    width = max(p.shape[1] for p in rgb)
    cells = [np.pad(p, ((0, height - p.shape[0] + gap), (0, width - p.shape[1] + gap), (0, 0)), constant_values=1.0)
             for p in rgb]
    cells += [np.ones_like(cells[0])] * (-len(cells) % columns)
    rows = [np.concatenate(cells[i:i + columns], axis=1) for i in range(0, len(cells), columns)]
    return np.concatenate(rows, axis=0)[:-gap, :-gap]


def rendered(draw) -> np.ndarray:
    """What ``draw(path)`` writes to a PNG, read back as an array (for ganlab's own PNG writers)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "picture.png"
        draw(path)
        return imread(path)


# ------------------------------------------------------------------------------------------------
# The figures of one run
# ------------------------------------------------------------------------------------------------
def progress(runs: Runs, name: str) -> np.ndarray:
    """Six of the run's sample grids (``samples/step_*.png``, all from one fixed noise batch), as saved."""
    folder = runs.path(name)
    grids = sorted((folder / "samples").glob("step_*.png"))
    wanted = [folder / "samples" / f"step_{step:06d}.png" for step in PROGRESS_STEPS]
    if not all(path in grids for path in wanted):  # another budget: six grids spread over the run
        wanted = [grids[round(i * (len(grids) - 1) / 5)] for i in range(6)]
    return stack_pictures([imread(path) for path in wanted], columns=3)


def final_grid(runs: Runs, name: str) -> np.ndarray:
    """The run's final grid (10 per class, from its fixed noise), drawn again with ganlab's current grid code."""
    run = runs.run(name)
    images = ganlab.generate(run.sampling_generator, run.fixed_latent, run.fixed_labels)
    rows = list(run.spec.class_names) if run.conditional else None
    title = f"{run.config.variant}, step {run.step}"
    return rendered(lambda path: save_grid(images, path, ncols=10, row_names=rows, suptitle=title))


def losses(runs: Runs, name: str) -> Figure:
    """The run's ``loss_curve.png``, drawn again from its ``losses.csv``."""
    folder = runs.path(name)
    run_folder = RunFolder.open(folder)
    config, _, _ = run_folder.read_config()
    return loss_curve_figure(run_folder.read_losses(), f"{config.variant} losses, seed {config.seed}")


def report(runs: Runs, names: list[str]) -> np.ndarray:
    """``ganlab compare`` of the runs: its report.png, as it is written."""
    folders = [runs.path(name) for name in names]
    with tempfile.TemporaryDirectory() as out:
        page = ganlab.compare(folders, out)
        return imread(page.with_suffix(".png"))


# ------------------------------------------------------------------------------------------------
# Figures that compare with real data, and cgan's embeddings
# ------------------------------------------------------------------------------------------------
def real_images(mnist: ganlab.Dataset, labels: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """A random test image of each label asked for, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(mnist.y_test == label)) for label in labels.tolist()]
    return ganlab.to_unit_range(torch.from_numpy(mnist.x_test[picks]))


def real_vs_fake(runs: Runs, name: str) -> Figure:
    """Real test images beside the run's samples: a row per digit (conditional), or 50 of each."""
    run, mnist = runs.run(name), runs.mnist
    classes = run.spec.num_classes
    labels = torch.arange(classes).repeat_interleave(5) if run.conditional else torch.arange(50) % classes
    fake = run.sample(labels, torch.Generator().manual_seed(1))
    real = real_images(mnist, labels) if run.conditional else real_images(mnist, torch.from_numpy(
        np.random.default_rng(2).choice(mnist.y_test, 50)))
    fig = Figure(figsize=(10, 6.1))
    for column, (images, title) in enumerate(((real, "real MNIST test images"),
                                              (fake, f"{run.config.variant} samples, step {run.step}"))):
        ax = fig.add_axes((0.06 + column * 0.48, 0.02, 0.42, 0.88))
        ax.imshow(mosaic(to_uint8_images(images), ncols=5), cmap="gray", interpolation="nearest")
        ax.set_title(title, fontsize=13)
        ax.set_axis_off()
        if run.conditional:
            for row in range(classes):
                ax.text(-4, 2 + row * 30 + 14, run.spec.class_names[row], ha="right", va="center", fontsize=12)
    note = "a row per digit; the samples from new noise" if run.conditional else "unconditional: any digit"
    fig.text(0.5, 0.97, f"Real or fake? ({note})", ha="center", va="center", fontsize=12, style="italic")
    return fig


def embeddings(runs: Runs, name: str) -> Figure:
    """What cgan's label embeddings learned: D's as 28 x 28 pixel masks, and how alike G's are."""
    run = runs.run(name)
    digits = list(run.spec.class_names)
    d_embedding = run.discriminator.conditioning.embedding.weight.detach().cpu()
    g_embedding = run.generator.conditioning.embedding.weight.detach().cpu()
    c, h, w = run.spec.image_shape
    fig = Figure(figsize=(12, 5))
    limit = d_embedding.abs().max().item()
    for k, row in enumerate(d_embedding):  # 1.1-inch masks, two rows of five
        ax = fig.add_axes((0.01 + (1.15 / 12) * (k % 5), 0.47 - 0.4 * (k // 5), 1.1 / 12, 1.1 / 5))
        ax.imshow(row.view(c, h, w)[0].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"E_D[{digits[k]}]", fontsize=11)
        ax.set_axis_off()
    fig.text(0.25, 0.92, "D's embeddings as 28 x 28 pixel masks\n(red keeps a pixel, blue flips its sign)",
             ha="center", va="center", fontsize=12)
    unit = g_embedding / g_embedding.norm(dim=1, keepdim=True)
    ax = fig.add_axes((0.53, 0.08, 0.36, 0.8))
    image = ax.imshow((unit @ unit.T).numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(digits)), digits, fontsize=11)
    ax.set_yticks(range(len(digits)), digits, fontsize=11)
    ax.set_title("cosine similarity of G's embeddings", fontsize=12)
    fig.colorbar(image, ax=ax, fraction=0.046).ax.tick_params(labelsize=10)
    fig.text(0.99, 0.02, f"{run.config.variant}, step {run.step}, seed {run.config.seed}", ha="right",
             fontsize=10, color="dimgrey")
    return fig


def metrics_table(runs: Runs) -> str:
    """The reference runs' final metrics (their metrics.json) as a Markdown table, for docs/gallery/README.md."""
    lines = ["| run | steps | training time | conditional accuracy | classes covered | class KL | FD (MNIST-CNN) "
             "| precision | recall |", "|---|---|---|---|---|---|---|---|---|"]
    for name, ref in REFERENCES.items():
        m = json.loads((runs.path(name) / "metrics.json").read_text())
        accuracy = m.get("conditional_accuracy")
        lines.append(f"| `{ref.variant}` | {m['step']:,} | {m['train_seconds'] / 60:.0f} min | "
                     f"{'—' if accuracy is None else f'{accuracy:.1%}'} | {m['classes_covered']} | "
                     f"{m['class_kl']:.3f} | {m['fd']:.1f} | {m['precision']:.2f} | {m['recall']:.2f} |")
    return "\n".join(lines)

