"""Figures about runs: loss and metric curves, and the side-by-side comparison report (HTML + PNG).

Drawing only: these functions take numbers and paths; loading and evaluating the runs they show is
:mod:`ganlab.api`'s job.

Every figure is sized in inches for :data:`DPI` and its text in points from :data:`TEXT`, so that it
reads at the size it is saved: a 13-inch report figure is 1300 pixels wide, and 10-point text is
about 14 pixels tall in it. A figure that is shrunk after drawing (an image inside an image) loses
that, which is why the report shows each run's final grid no smaller than about two thirds of its size.
"""
from __future__ import annotations

import base64
import html
import io
import os

import numpy as np
from matplotlib.figure import Figure  # a Figure without pyplot: no GUI, no global state
from matplotlib.image import imread, imsave
from matplotlib.ticker import MaxNLocator

from ganlab.evaluation import MetricSet
from ganlab.files import atomic_save
from ganlab.spread import clearly_better, describe, spread

DPI = 100  # every figure here is saved at this resolution
TEXT = {"heading": 16, "title": 13, "label": 11, "tick": 10, "legend": 10, "note": 10}
REPORT_WIDTH = 13.0  # inches: every figure of the report is this wide, so the stacked PNG lines up
PANELS_PER_ROW = 3
LOSS_COLOURS = {"d_loss": "tab:blue", "g_loss": "tab:orange"}  # as in every run's loss_curve.png
LOSS_NAMES = {"d_loss": "discriminator", "g_loss": "generator"}
MARKERS = "os^Dv<>PX"  # one shape per run, so points that land on each other stay visible
FRACTION_METRICS = ("conditional_accuracy", "precision", "recall")  # drawn on a 0..1 axis


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each ``window`` consecutive values (a GAN's per-step losses are very noisy)."""
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def save_png(fig: Figure, path: str | os.PathLike) -> None:
    atomic_save(path, lambda handle: fig.savefig(handle, format="png", dpi=DPI))


def style_axes(ax, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
    """Titles, axis labels and ticks in the sizes of :data:`TEXT`."""
    if title:
        ax.set_title(title, fontsize=TEXT["title"])
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=TEXT["label"])
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=TEXT["label"])
    ax.tick_params(labelsize=TEXT["tick"])
    ax.grid(alpha=0.25)


def set_margins(fig: Figure, left: float, right: float, bottom: float, top: float,
                columns: int = 1, rows: int = 1, across: float = 0.0, down: float = 0.0) -> None:
    """Place the axes with margins and gaps given in inches (fixed: quicker than an automatic layout,
    and the same in every figure). ``across``/``down``: the gaps between panels."""
    width, height = fig.get_size_inches()
    panel_w = (width - left - right - (columns - 1) * across) / columns
    panel_h = (height - bottom - top - (rows - 1) * down) / rows
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        wspace=across / panel_w, hspace=down / panel_h)


def panel_grid(count: int, panel_height: float, columns: int = PANELS_PER_ROW, top: float = 0.0,
               sharex: bool = False) -> tuple[Figure, list]:
    """A figure :data:`REPORT_WIDTH` wide with ``count`` panels, ``columns`` to a row; spare panels hidden.

    ``top`` inches are left free above the panels for a legend or a note. Each panel's share of the
    height includes room for a two-line title above it and the x-axis label below it.
    """
    columns = min(columns, count)
    rows = -(-count // columns)
    fig = Figure(figsize=(REPORT_WIDTH, rows * panel_height + top))
    axes = list(fig.subplots(rows, columns, squeeze=False, sharex=sharex).flat)
    title, xlabel = 0.6, 0.55  # inches: a two-line title; tick labels and the axis label
    set_margins(fig, left=0.85, right=0.2, bottom=xlabel, top=top + title, columns=columns, rows=rows,
                across=0.95, down=title + xlabel)
    for ax in axes[count:]:
        ax.set_axis_off()
    return fig, axes[:count]


# --------------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------------
def draw_losses(ax, records: list[dict[str, float]]) -> None:
    """D's and G's losses against steps on one axis: each step faintly, a moving average on top.

    A curve of one point is drawn as a marker (a line needs two). The y-axis holds the averaged
    curves whole and the bulk of the single steps (1st to 99th percentile), so that a few spikes
    do not flatten the curves.
    """
    steps = np.array([r["step"] for r in records])
    window = max(1, len(records) // 100)
    raw, smoothed = [], []
    for key in ("d_loss", "g_loss"):
        values = np.array([r[key] for r in records], dtype=float)
        smooth = moving_average(values, window)
        if window > 1:
            ax.plot(steps, values, color=LOSS_COLOURS[key], alpha=0.2, linewidth=0.5)
        ax.plot(steps[window - 1:], smooth, color=LOSS_COLOURS[key], label=LOSS_NAMES[key],
                marker="o" if len(smooth) == 1 else None, markersize=7)
        raw.append(values)
        smoothed.append(smooth)
    ax.set_ylim(*robust_limits(np.concatenate(raw), np.concatenate(smoothed)))
    ax.set_xlim(left=0)
    ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))


def robust_limits(values: np.ndarray, whole: np.ndarray | None = None) -> tuple[float, float]:
    """Axis limits around the 1st to 99th percentile of ``values`` and the 2nd to 98th of ``whole`` (the
    averaged curves: their trend stays inside, the few averages a single spike lifts do not), with a margin."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    low, high = np.percentile(finite, [1, 99])
    if whole is not None and np.isfinite(whole).any():
        whole_low, whole_high = np.percentile(whole[np.isfinite(whole)], [2, 98])
        low, high = min(low, whole_low), max(high, whole_high)
    margin = 0.1 * (high - low) or 0.1 * max(abs(high), 1.0)
    return float(low - margin), float(high + margin)


def save_loss_curve(records: list[dict[str, float]], path: str | os.PathLike, title: str = "") -> None:
    """Both losses against steps (see :func:`loss_curve_figure`); nothing is written without records."""
    if records:
        save_png(loss_curve_figure(records, title), path)


def loss_curve_figure(records: list[dict[str, float]], title: str = "") -> Figure:
    """Both losses of one run against steps: each step faintly, and a moving average on top.

    The tutorial plots only G's loss; D's matters as much (a D loss near 0 means D has won).
    """
    fig = Figure(figsize=(8, 3.8))
    ax = fig.subplots()
    set_margins(fig, left=0.85, right=0.2, bottom=0.6, top=0.4)
    draw_losses(ax, records)
    window = max(1, len(records) // 100)
    note = f" (lines: mean of {window} steps)" if window > 1 else ""
    style_axes(ax, title or "losses", xlabel="step" + note, ylabel="loss")
    ax.legend(fontsize=TEXT["legend"])
    return fig


def losses_figure(runs: list[dict]) -> Figure:
    """One panel per run, each on its own y-axis, with a note saying why.

    Variants minimise different losses (cross-entropy, a Wasserstein critic's score difference that
    can sit near -25, a hinge...): on one shared axis the largest would flatten all the others.
    """
    shown = [run for run in runs if run["losses"]]
    if not shown:
        fig = Figure(figsize=(REPORT_WIDTH, 1))
        fig.text(0.01, 0.5, "No run has a losses.csv.", fontsize=TEXT["note"], va="center")
        return fig
    fig, axes = panel_grid(len(shown), panel_height=3.2, top=0.45, sharex=True)
    for ax, run in zip(axes, shown):
        draw_losses(ax, run["losses"])
        style_axes(ax, run["name"], xlabel="step", ylabel="loss")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper left", ncols=2, fontsize=TEXT["legend"], frameon=False)
    fig.text(0.99, 1 - 0.22 / fig.get_figheight(), "Each run has its own y-axis: variants minimise different "
             "losses, so compare shapes, not heights.", ha="right", va="center", fontsize=TEXT["note"],
             style="italic")
    return fig


# --------------------------------------------------------------------------------------------------
# Metric curves
# --------------------------------------------------------------------------------------------------
def save_metric_curves(curves: dict[str, list[dict]], path, metrics: MetricSet, against: str = "step") -> None:
    """One panel per metric of ``metrics.curves``, one line per run, against ``step`` or wall-clock ``seconds``."""
    shown = shown_metrics(curves, metrics.curves)
    if not shown:
        return
    fig = metric_figure(curves, shown, metrics, against)
    save_png(fig, path)


def shown_metrics(curves: dict[str, list[dict]] | dict[str, list[list[dict]]], keys) -> list[str]:
    """The metrics among ``keys`` (in their order) that at least one run's curve has a value for."""
    every_run = [run for rows in curves.values() for run in (rows if rows and isinstance(rows[0], list) else [rows])]
    return [m for m in keys if any(np.isfinite(as_array(rows, m)).any() for rows in every_run)]


def as_array(rows: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)


def series_style(index: int) -> dict:
    """The colour, marker and width of the ``index``-th series: the same in every panel of a figure.

    Each series is drawn a little narrower than the one before, on top of it, so two runs with the
    same values show as a line inside a line instead of one hiding the other.
    """
    return {"color": f"C{index % 10}", "marker": MARKERS[index % len(MARKERS)],
            "linewidth": max(1.2, 3.6 - 0.6 * index), "zorder": 2 + index}


def draw_metric_series(ax, name: str, rows: list[dict] | list[list[dict]], metric: str, against: str,
                       style: dict) -> bool:
    """One run's curve of ``metric`` in ``ax``, or for several seeds of one recipe (a list of runs'
    rows) their mean with a band from their min to their max; returns False when no run has a value."""
    runs = rows if rows and isinstance(rows[0], list) else [rows]
    if len(runs) > 1:
        return _draw_band(ax, name, runs, metric, against, style)
    values = as_array(runs[0], metric)
    known = np.isfinite(values)
    if not known.any():
        return False
    single = known.sum() == 1  # a line needs two points: show a single evaluation as a big marker
    ax.plot(as_array(runs[0], against)[known], values[known], label=name, alpha=0.85,
            markersize=9 if single else 5, **style)
    return True


def _draw_band(ax, name: str, runs: list[list[dict]], metric: str, against: str, style: dict) -> bool:
    """Seeds of one recipe evaluate at the same steps: the i-th evaluations are lined up (their mean
    x for wall-clock seconds, which differ a little), the mean drawn as a line, min to max as a band."""
    length = min(len(rows) for rows in runs)
    values = np.array([as_array(rows[:length], metric) for rows in runs])  # (runs, evaluations)
    known = np.isfinite(values).all(axis=0)
    if not known.any():
        return False
    x = np.array([as_array(rows[:length], against) for rows in runs]).mean(axis=0)[known]
    values = values[:, known]
    ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=style["color"], alpha=0.18, linewidth=0,
                    zorder=style["zorder"] - 1)
    ax.plot(x, values.mean(axis=0), label=f"{name} ({len(runs)} seeds)", alpha=0.9,
            markersize=9 if known.sum() == 1 else 5, **style)
    return True


def style_metric_axes(ax, metric: str, label: str, higher_is_better: bool, against: str, missing: list[str]) -> None:
    """Title with the better direction, axes from 0 (fractions up to 1), and who has no value."""
    better = "higher is better" if higher_is_better else "lower is better"
    style_axes(ax, f"{label}\n({better})", xlabel="wall-clock seconds" if against == "seconds" else "step")
    ax.set_xlim(left=0)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    if metric in FRACTION_METRICS:
        ax.set_ylim(-0.03, 1.03)  # a little below 0, so a marker at 0 is not cut in half
    else:
        top = max(ax.get_ylim()[1], 1e-9)
        ax.set_ylim(-0.03 * top, top)
        if metric == "classes_covered":
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if missing:
        ax.text(0.02, 0.04, "no value: " + ", ".join(missing), transform=ax.transAxes,
                fontsize=TEXT["note"], color="dimgrey", style="italic")


def metric_figure(curves: dict[str, list[dict]] | dict[str, list[list[dict]]], shown: list[str],
                  metrics: MetricSet, against: str) -> Figure:
    """A panel per metric in ``shown`` (named and directed by ``metrics``), a series per entry of
    ``curves`` (a run's rows, or several seeds' rows: see :func:`draw_metric_series`; same style in
    every panel), and one legend."""
    fig, axes = panel_grid(len(shown), panel_height=3.4, top=0.4)
    for ax, metric in zip(axes, shown):
        missing = [name for index, (name, rows) in enumerate(curves.items())
                   if not draw_metric_series(ax, name, rows, metric, against, series_style(index))]
        style_metric_axes(ax, metric, metrics.labels[metric], metrics.higher_is_better[metric], against, missing)
    found = {}
    for ax in axes:  # every series once, even one that has no value in the first panel
        for handle, label in zip(*ax.get_legend_handles_labels()):
            found.setdefault(label, handle)
    # in the order of ``curves`` (a group of seeds is labelled "name (n seeds)")
    names = [label for name in curves for label in found if label == name or label.startswith(f"{name} (")]
    fig.legend([found[name] for name in names], names, loc="upper left", ncols=min(len(names), 6),
               fontsize=TEXT["legend"], frameon=False)
    return fig


# --------------------------------------------------------------------------------------------------
# The comparison report
# --------------------------------------------------------------------------------------------------
def metrics_table(runs: list[dict]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Column names and rows of formatted values; the best value of each row is starred.

    Runs of one recipe with several seeds (``run["group"]``, see :func:`ganlab.api.recipe_names`)
    share a column: each metric as its mean with its spread (:func:`ganlab.spread.describe`), starred
    only where its min–max range beats every other column's."""
    groups = recipe_groups(runs)
    if any(len(members) > 1 for members in groups.values()):
        return _spread_table(runs[0]["metric_set"], groups)
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


def recipe_groups(runs: list[dict]) -> dict[str, list[dict]]:
    """The runs by recipe (``run["group"]``; a run without one is its own), in the order first seen."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(run.get("group") or run["name"], []).append(run)
    return groups


def _spread_table(metric_set, groups: dict[str, list[dict]]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    rows = []
    for key, label in metric_set.labels.items():
        spreads = [spread([(r["metrics"] or {}).get(key) for r in members]) for members in groups.values()]
        cells = []
        for index, summary in enumerate(spreads):
            others = [other for j, other in enumerate(spreads) if j != index and other is not None]
            best = summary is not None and others and all(
                clearly_better(summary, other, metric_set.higher_is_better[key]) for other in others)
            # 3 significant digits, 2 for tiny values (a class KL of 0.00085): a cell must fit its column
            digits = 2 if summary is not None and abs(summary["mean"]) < 0.01 else 3
            cells.append(describe(summary, digits) + (" ★" if best else ""))
        rows.append((label, cells))
    rows.append(("seeds", [", ".join(str(r["seed"]) for r in members) for members in groups.values()]))
    seconds = [spread([(r["metrics"] or {}).get("train_seconds") for r in members]) for members in groups.values()]
    rows.append(("training seconds", [describe(summary, 3) for summary in seconds]))
    return list(groups), rows


def table_figure(columns: list[str], rows: list[tuple[str, list[str]]]) -> Figure:
    """The metrics table as a figure, for the PNG (the HTML has a real table); best cells green."""
    row_height = 0.3  # inches
    fig = Figure(figsize=(REPORT_WIDTH, row_height * (len(rows) + 1) + 0.1))
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
    ax.set_axis_off()
    first = 0.28  # of the width, for the metric names
    widths = [first] + [(1 - first) / len(columns)] * len(columns)
    table = ax.table(cellText=[[label, *cells] for label, cells in rows], colLabels=["metric", *columns],
                     colWidths=widths, bbox=(0, 0, 1, 1), cellLoc="right")
    table.auto_set_font_size(False)
    table.set_fontsize(TEXT["label"])
    for (row, column), cell in table.get_celld().items():
        cell.set_edgecolor("#cccccc")
        cell.get_text().set_horizontalalignment("left" if column == 0 else "right")
        if row == 0:
            cell.set_text_props(fontweight="bold")
        if row > 0 and column > 0 and "★" in cell.get_text().get_text():
            cell.set_facecolor("#e8f5e9")
            cell.set_text_props(fontweight="bold")
    return fig


def grids_figure(runs: list[dict]) -> Figure:
    """Each run's final grid (its ``final_grid.png``), two to a row, at about two thirds of its size.

    A final grid is drawn with its own labels (a row per class); shown much smaller than it was
    saved, those labels become unreadable, so the report gives each grid half its width.
    """
    columns = min(2, len(runs))
    rows = -(-len(runs) // columns)
    panel = REPORT_WIDTH / columns
    fig = Figure(figsize=(REPORT_WIDTH, rows * (panel + 0.45)))
    for index, run in enumerate(runs):
        row, column = divmod(index, columns)
        # Axes placed by hand, in figure fractions: a title band of 0.45 in above each square panel.
        bottom = 1 - (row + 1) * (panel + 0.45) / fig.get_figheight()
        ax = fig.add_axes((column / columns, bottom, 1 / columns, panel / fig.get_figheight()))
        ax.set_axis_off()
        grid = run["folder"].final_grid_file
        if grid.exists():
            ax.imshow(imread(grid), interpolation="antialiased")  # aspect kept: never cut, only framed
        else:
            ax.text(0.5, 0.5, "no final_grid.png", ha="center", va="center", fontsize=TEXT["label"])
        fig.text((column + 0.5) / columns, bottom + (panel + 0.2) / fig.get_figheight(), run["name"],
                 ha="center", va="center", fontsize=TEXT["title"], fontweight="bold")
    return fig


def heading_figure(text: str) -> Figure:
    """A band with a section heading, for the stacked PNG (the HTML has <h2>)."""
    fig = Figure(figsize=(REPORT_WIDTH, 0.55))
    fig.text(0.01, 0.4, text, fontsize=TEXT["heading"], fontweight="bold", va="center")
    return fig


def figure_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def report_pages(runs: list[dict]) -> tuple[str, bytes]:
    """The comparison report of loaded runs (see ``ganlab.api.compare``): the HTML page (images
    embedded, so it opens offline) and the PNG of the same figures stacked, each under a heading and
    the metrics table first."""
    columns, rows = metrics_table(runs)
    dataset = runs[0]["dataset"]
    figures = {"Final samples": figure_png(grids_figure(runs)), "Losses": figure_png(losses_figure(runs))}
    groups = recipe_groups(runs)
    curves = {name: [r["curve"] for r in members if r["curve"]] for name, members in groups.items()}
    curves = {name: (rows if len(rows) > 1 else rows[0]) for name, rows in curves.items() if rows}
    metrics = runs[0]["metric_set"]
    shown = shown_metrics(curves, list(metrics.labels))
    seeded = any(len(members) > 1 for members in groups.values())
    bands = " (lines: the seeds' mean; bands: their range)" if seeded else ""
    if shown:
        figures[f"Metrics against steps{bands}"] = figure_png(metric_figure(curves, shown, metrics, "step"))
        figures[f"Metrics against wall-clock seconds{bands}"] = figure_png(
            metric_figure(curves, shown, metrics, "seconds"))
    key = SPREAD_KEY if seeded else "★ = best of the row"
    title = f"ganlab comparison: metrics on the {dataset} test split"
    headings = [title, SHORT_SPREAD_KEY] if seeded else [f"{title} ({key})"]  # each must fit the width
    stacked = [figure_png(heading_figure(text)) for text in headings] + [figure_png(table_figure(columns, rows))]
    for title, png in figures.items():
        stacked += [figure_png(heading_figure(title)), png]
    return render_html(columns, rows, figures, dataset, key), stack_pngs(stacked)


def stack_pngs(pngs: list[bytes]) -> bytes:
    """The report's figures one under another, as one PNG."""
    images = [imread(io.BytesIO(png))[..., :3] for png in pngs]
    width = max(image.shape[1] for image in images)
    padded = [np.pad(image, ((0, 10), (0, width - image.shape[1]), (0, 0)), constant_values=1.0) for image in images]
    stacked = np.concatenate(padded)
    buffer = io.BytesIO()
    imsave(buffer, np.clip(stacked, 0, 1), format="png")
    return buffer.getvalue()


SPREAD_KEY = ("mean [min–max] over the seeds; ★ = its range beats every other column's, a rough test with "
              "few seeds")
SHORT_SPREAD_KEY = "mean [min–max] over the seeds; ★ = its range beats every other column's"


def render_html(columns, rows, figures: dict[str, bytes], dataset: str, key: str = "★ = best of the row") -> str:
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
<p>Metrics on the {esc(dataset)} test split, judged by the project's own classifier ({esc(key)}).
The FD is a Fréchet distance in that classifier's features, not comparable to Inception FID.</p>
<table><tr><th>metric</th>{head}</tr>{body}</table>
{images}
</body></html>
"""
