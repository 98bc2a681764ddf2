"""Figures about runs: loss and metric curves, and the side-by-side comparison report (HTML + PNG).

Drawing only: these functions take numbers and paths; loading and evaluating the runs they show is
:mod:`ganlab.api`'s job.
"""
from __future__ import annotations

import base64
import html
import io
import os

import numpy as np
from matplotlib.figure import Figure  # a Figure without pyplot: no GUI, no global state
from matplotlib.image import imread, imsave

from ganlab.files import atomic_save


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each ``window`` consecutive values (a GAN's per-step losses are very noisy)."""
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def save_loss_curve(records: list[dict[str, float]], path: str | os.PathLike, title: str = "") -> None:
    """Both losses against steps: each step faintly, and a moving average on top.

    The tutorial plots only G's loss; D's matters as much (a D loss near 0 means D has won).
    """
    if not records:
        return
    steps = np.array([r["step"] for r in records])
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    window = max(1, len(records) // 100)
    for key, name, colour in (("d_loss", "discriminator", "tab:blue"), ("g_loss", "generator", "tab:orange")):
        values = np.array([r[key] for r in records])
        ax.plot(steps, values, color=colour, alpha=0.2, linewidth=0.5)
        ax.plot(steps[window - 1:], moving_average(values, window), color=colour, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title or "losses")
    ax.legend()
    fig.tight_layout()
    atomic_save(path, lambda handle: fig.savefig(handle, format="png", dpi=100))


def save_metric_curves(curves: dict[str, list[dict]], path, labels: dict[str, str], against: str = "step") -> None:
    """One panel per metric, one line per run, against ``step`` or wall-clock ``seconds``."""
    shown = shown_metrics(curves, labels)
    if not shown:
        return
    fig = metric_figure(curves, shown, labels, against)
    atomic_save(path, lambda handle: fig.savefig(handle, format="png", dpi=100))


def shown_metrics(curves: dict[str, list[dict]], labels: dict[str, str]) -> list[str]:
    """The metrics (keys of ``labels``) that at least one run's curve has a value for."""
    return [m for m in labels if any(np.isfinite(as_array(rows, m)).any() for rows in curves.values())]


def as_array(rows: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)


def metric_figure(curves, shown, labels, against):
    ncols = min(3, len(shown))
    nrows = -(-len(shown) // ncols)
    fig = Figure(figsize=(4 * ncols, 3 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, metric in zip(axes.flat, shown):
        for index, (name, rows) in enumerate(curves.items()):  # one colour per run in every panel
            values = as_array(rows, metric)
            if np.isfinite(values).any():
                ax.plot(as_array(rows, against), values, marker="o", markersize=3, label=name, color=f"C{index}")
        ax.set_title(labels[metric], fontsize=10)
        ax.set_xlabel("wall-clock seconds" if against == "seconds" else "step")
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------------
# The comparison report
# --------------------------------------------------------------------------------------------------
def metrics_table(runs: list[dict]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Column names and rows of formatted values; the best value of each row is starred."""
    labels, higher_is_better = runs[0]["metric_set"].labels, runs[0]["metric_set"].higher_is_better
    rows = []
    for key, label in labels.items():
        values = [(r["metrics"] or {}).get(key) for r in runs]
        known = [v for v in values if v is not None]
        best = (max if higher_is_better[key] else min)(known) if len(known) > 1 else None
        cells = ["—" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
                 + (" ★" if best is not None and v == best and known.count(best) < len(known) else "")
                 for v in values]
        rows.append((label, cells))
    for key, label in (("step", "steps"), ("train_seconds", "training seconds"), ("n_samples", "samples evaluated")):
        rows.append((label, [str((r["metrics"] or {}).get(key, "—")) for r in runs]))
    return [r["name"] for r in runs], rows


def figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def grids_figure(runs):
    fig = Figure(figsize=(4.5 * len(runs), 4.8))
    axes = fig.subplots(1, len(runs), squeeze=False)
    for ax, run in zip(axes.flat, runs):
        grid = run["folder"].final_grid_file
        if grid.exists():
            ax.imshow(imread(grid))
        ax.set_title(run["name"], fontsize=10)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def losses_figure(runs):
    fig = Figure(figsize=(11, 3.5))
    axes = fig.subplots(1, 2, sharex=True)
    for ax, key, title in ((axes[0], "d_loss", "discriminator loss"), (axes[1], "g_loss", "generator loss")):
        for run in runs:
            if run["losses"]:
                values = np.array([r[key] for r in run["losses"]])
                window = max(1, len(values) // 100)
                steps = np.array([r["step"] for r in run["losses"]])[window - 1:]
                ax.plot(steps, moving_average(values, window), label=run["name"])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def report_pages(runs: list[dict]) -> tuple[str, bytes]:
    """The comparison report of loaded runs (see ``ganlab.api.compare``): the HTML page (images
    embedded, so it opens offline) and the PNG of the same figures stacked."""
    figures = {"Final samples": figure_png(grids_figure(runs)), "Losses": figure_png(losses_figure(runs))}
    curves = {r["name"]: r["curve"] for r in runs if r["curve"]}
    labels = runs[0]["metric_set"].labels
    shown = shown_metrics(curves, labels)
    if shown:
        figures["Metrics against steps"] = figure_png(metric_figure(curves, shown, labels, "step"))
        figures["Metrics against wall-clock seconds"] = figure_png(metric_figure(curves, shown, labels, "seconds"))
    columns, rows = metrics_table(runs)
    return render_html(columns, rows, figures, runs[0]["dataset"]), stack_pngs(list(figures.values()))


def stack_pngs(pngs: list[bytes]) -> bytes:
    """The report's figures one under another, as one PNG."""
    images = [imread(io.BytesIO(png))[..., :3] for png in pngs]
    width = max(image.shape[1] for image in images)
    padded = [np.pad(image, ((0, 10), (0, width - image.shape[1]), (0, 0)), constant_values=1.0) for image in images]
    stacked = np.concatenate(padded)
    buffer = io.BytesIO()
    imsave(buffer, np.clip(stacked, 0, 1), format="png")
    return buffer.getvalue()


def render_html(columns, rows, figures: dict[str, bytes], dataset: str) -> str:
    def esc(text):
        return html.escape(str(text))

    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(f"<tr><th>{esc(label)}</th>" + "".join(
        f"<td{' class=best' if '★' in cell else ''}>{esc(cell)}</td>" for cell in cells) + "</tr>"
        for label, cells in rows)
    images = "".join(f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='data:image/png;base64,"
                     f"{base64.b64encode(png).decode()}'>" for title, png in figures.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>ganlab comparison</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1300px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}} td.best{{font-weight:bold;background:#e8f5e9}}
img{{max-width:100%}}</style></head><body>
<h1>ganlab comparison</h1>
<p>Metrics on the {esc(dataset)} test split, judged by the project's own classifier (★ = best of the row).
The FD is a Fréchet distance in that classifier's features, not comparable to Inception FID.</p>
<table><tr><th>metric</th>{head}</tr>{body}</table>
{images}
</body></html>
"""
