"""The figures read at the size they are saved: legible text, single points visible, losses that are not
comparable on axes of their own, labelled grids that are never cut off."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.text import Text

from ganlab import figures
from ganlab.data import DatasetSpec
from ganlab.evaluation import metric_set
from ganlab.metrics import CURVE_METRICS
from ganlab.sampling import save_grid

SMALLEST_POINTS = 9  # at figures.DPI = 100, 9-point text is 12.5 pixels tall


def bce_like(steps):
    return [{"step": s, "d_loss": 0.6 + 0.05 * np.sin(s), "g_loss": 1.0 + 0.1 * np.cos(s)} for s in range(1, steps + 1)]


def wgan_like(steps):
    return [{"step": s, "d_loss": -25.0 + np.sin(s), "g_loss": 20.0 + np.cos(s)} for s in range(1, steps + 1)]


def curve(steps, conditional=True):
    return [{"step": s, "seconds": s / 10, "n_samples": 100, "conditional_accuracy": 0.5 if conditional else None,
             "classes_covered": 10, "class_kl": 0.1, "fd": 50.0, "precision": 0.6, "recall": 0.3} for s in steps]


def drawn_text(fig: Figure) -> list[Text]:
    FigureCanvasAgg(fig).draw()  # tick labels exist once the figure is drawn, as when it is saved
    return [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]


def assert_legible(fig: Figure):
    small = [(t.get_text(), t.get_fontsize()) for t in drawn_text(fig) if t.get_fontsize() < SMALLEST_POINTS]
    assert not small, f"text smaller than {SMALLEST_POINTS} pt: {small[:5]}"


def assert_inside(fig: Figure):
    """Everything drawn lies within the figure: nothing is cut off at an edge."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    drawn = fig.get_tightbbox(canvas.get_renderer())  # inches, around every visible artist
    tolerance = 0.02
    assert drawn.x0 >= -tolerance and drawn.y0 >= -tolerance, drawn
    assert drawn.x1 <= fig.get_figwidth() + tolerance and drawn.y1 <= fig.get_figheight() + tolerance, drawn


MNIST_SPEC = DatasetSpec("mnist", (1, 28, 28), 10, tuple("0123456789"))


def runs_for_report(tmp_path, losses):
    class Folder:  # what the report reads of a run folder: only its final grid
        final_grid_file = tmp_path / "grid.png"

    save_grid(torch.rand(100, 1, 28, 28) * 2 - 1, Folder.final_grid_file, ncols=10, row_names=list("0123456789"),
              suptitle="cgan, step 6")
    return [{"name": name, "dataset": "mnist", "folder": Folder, "losses": records, "curve": curve([50, 100]),
             "metric_set": metric_set(MNIST_SPEC), "metrics": {"fd": 50.0 + i, "step": 100}}
            for i, (name, records) in enumerate(losses.items())]


def test_a_loss_curve_of_one_step_is_drawn_as_markers():
    fig = Figure()
    figures.draw_losses(fig.subplots(), bce_like(1))
    lines = [line for line in fig.axes[0].get_lines() if len(line.get_xdata()) == 1]
    assert len(lines) == 2 and all(line.get_marker() not in (None, "None", "") for line in lines)


def test_a_metric_with_one_evaluation_is_drawn_as_a_large_marker():
    fig = figures.metric_figure({"cgan": curve([100])}, ["fd"], metric_set(MNIST_SPEC), "step")
    (line,) = fig.axes[0].get_lines()
    assert line.get_marker() not in (None, "None", "") and line.get_markersize() >= 8


def test_the_comparison_losses_give_each_run_its_own_y_axis_so_a_wgan_does_not_flatten_the_others():
    fig = figures.losses_figure([{"name": "cgan", "losses": bce_like(300)},
                                 {"name": "wgan-gp", "losses": wgan_like(300)}])
    cgan_axes, wgan_axes = fig.axes[:2]
    assert cgan_axes.get_title() == "cgan" and wgan_axes.get_title() == "wgan-gp"
    low, high = cgan_axes.get_ylim()
    assert -1 < low and high < 2, "the cGAN's axis must fit its own losses, not the WGAN's -25"
    assert wgan_axes.get_ylim()[0] < -25
    assert any("own y-axis" in t.get_text() for t in fig.texts)


def test_a_few_spikes_do_not_set_the_loss_axis():
    records = bce_like(1000)
    records[500]["g_loss"] = 400.0
    fig = Figure()
    figures.draw_losses(fig.subplots(), records)
    assert fig.axes[0].get_ylim()[1] < 5


def test_every_run_appears_once_in_the_metric_legend_in_order_and_a_missing_metric_is_named():
    curves = {"gan": curve([50, 100], conditional=False), "cgan": curve([50, 100])}
    fig = figures.metric_figure(curves, list(CURVE_METRICS), metric_set(MNIST_SPEC), "step")
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["gan", "cgan"]
    accuracy_panel = fig.axes[0]
    assert "higher is better" in accuracy_panel.get_title()
    assert any(t.get_text() == "no value: gan" for t in accuracy_panel.texts)
    assert accuracy_panel.get_ylim() == pytest.approx((-0.03, 1.03))


def test_runs_with_identical_values_stay_visible_as_nested_lines():
    styles = [figures.series_style(i) for i in range(3)]
    assert styles[0]["linewidth"] > styles[1]["linewidth"] > styles[2]["linewidth"]
    assert len({s["marker"] for s in styles}) == 3 and styles[0]["zorder"] < styles[2]["zorder"]


@pytest.mark.parametrize("make", [
    lambda tmp_path: figures.metric_figure({"a": curve([1, 2]), "b": curve([1, 2])}, list(CURVE_METRICS),
                                           metric_set(MNIST_SPEC), "seconds"),
    lambda tmp_path: figures.losses_figure([{"name": "a", "losses": bce_like(50)},
                                            {"name": "b", "losses": wgan_like(50)}]),
    lambda tmp_path: figures.table_figure(*figures.metrics_table(runs_for_report(tmp_path, {"a": [], "b": []}))),
    lambda tmp_path: figures.grids_figure(runs_for_report(tmp_path, {"a": [], "b": [], "c": []})),
], ids=["metrics", "losses", "table", "grids"])
def test_report_figures_use_legible_text_and_keep_everything_inside(make, tmp_path):
    fig = make(tmp_path)
    assert_legible(fig)
    assert_inside(fig)


def test_the_report_shows_each_final_grid_whole_and_at_two_thirds_of_its_size_or_more(tmp_path):
    runs = runs_for_report(tmp_path, {"a": [], "b": [], "c": []})
    grid = imread(runs[0]["folder"].final_grid_file)
    fig = figures.grids_figure(runs)
    for ax in fig.axes:
        (image,) = ax.get_images()
        assert image.get_array().shape[:2] == grid.shape[:2]  # the whole grid, not a crop
        left, right, bottom, top = image.get_extent()
        assert ax.get_xlim() == pytest.approx((left, right)) and ax.get_ylim() == pytest.approx((bottom, top))
        shown_width = ax.get_window_extent().width * figures.DPI / fig.dpi
        assert shown_width >= 0.65 * grid.shape[1]


def test_the_stacked_report_png_has_headings_and_the_table(tmp_path):
    runs = runs_for_report(tmp_path, {"cgan": bce_like(20), "wgan-gp": wgan_like(20)})
    page, png = figures.report_pages(runs)
    assert "<table>" in page and "Losses" in page
    image = imread(io.BytesIO(png))
    parts = [figures.heading_figure("x"), figures.table_figure(*figures.metrics_table(runs)),
             figures.grids_figure(runs), figures.losses_figure(runs)]
    heights = sum(round(f.get_figheight() * figures.DPI) for f in parts)
    assert image.shape[0] >= heights  # at least a heading, the table, the grids and the losses


@pytest.mark.parametrize("names", [list("0123456789"), ["T-shirt/top", "Trouser", "Ankle boot"]])
def test_a_grid_with_row_names_and_a_title_keeps_every_label_and_image_inside_the_picture(names, tmp_path):
    path = tmp_path / "grid.png"
    save_grid(torch.full((len(names) * 4, 1, 28, 28), -1.0), path, ncols=4, row_names=names, suptitle="a title")
    picture = imread(path)[..., :3].mean(-1)
    dark_rows = np.flatnonzero((picture < 0.5).any(1))
    dark_columns = np.flatnonzero((picture < 0.5).any(0))
    assert dark_rows[0] > 0 and dark_rows[-1] < picture.shape[0] - 1, "the grid touches the top or bottom edge"
    assert dark_columns[0] > 0 and dark_columns[-1] < picture.shape[1] - 1, "a label or image touches an edge"
