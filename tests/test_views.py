"""GAN Lab's views: each frame's data, the drawing, the GIF, and the HTML player in a real browser."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from headless_chromium import Browser, chromium_path
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from ganlab.data.toy import make_toy_dataset
from ganlab.view_player import PlayerFrame, player_html, save_player
from ganlab.views import ViewPainter, ViewRecorder, compute_frame, evenly_spaced, latent_plane, save_gif, scaled_arrows

RING = make_toy_dataset("ring", seed=0, n_train=400, n_test=0)
REAL = torch.from_numpy(RING.x_train)
REAL_LABELS = torch.from_numpy(RING.y_train)


def non_saturating(scores):
    return F.softplus(-(scores[0] if isinstance(scores, tuple) else scores)).mean()


class TinyGenerator(nn.Module):
    def __init__(self, latent_dim=2, num_classes=0):
        super().__init__()
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.layers = nn.Sequential(nn.Linear(latent_dim, 16), nn.LeakyReLU(0.2), nn.BatchNorm1d(16),
                                    nn.Linear(16, 2), nn.Tanh())

    def forward(self, z, labels):
        return self.layers(z * self.embed(labels) if self.embed is not None else z)


class TinyDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Dropout(0.5), nn.Linear(16, 1))

    def forward(self, x, labels):
        return self.layers(x).squeeze(1)


def frame_of(step=10, conditional=False, latent_dim=2, n=50, generator=None, discriminator=None, **options):
    torch.manual_seed(step)
    generator = generator or TinyGenerator(latent_dim, 8 if conditional else 0)
    discriminator = discriminator or TinyDiscriminator()
    latent, labels = torch.randn(n, latent_dim), torch.arange(n) % 8
    return compute_frame(generator, discriminator, latent, labels, non_saturating, REAL, REAL_LABELS, step,
                         conditional=conditional, num_classes=8, modes=RING.modes, **options)


# --- a frame's data ----------------------------------------------------------------------------------


def test_a_frame_holds_every_view_as_numpy_arrays():
    frame = frame_of(resolution=32)
    assert frame.real.shape == (400, 2) and frame.fake.shape == (50, 2) and frame.descent.shape == (50, 2)
    assert frame.d_map.shape == (32, 32) and frame.manifold.shape == (1, 21, 21, 2)
    assert ((frame.d_map > 0) & (frame.d_map < 1)).all()  # probabilities
    assert frame.metrics["num_modes"] == 8 and frame.metrics["n_samples"] == 50


def test_arrows_point_where_the_generator_loss_goes_down():
    """For D(x) = w·x + b and L_G = mean softplus(-D): -∂L/∂x_i = sigmoid(-D(x_i)) w / N, along +w."""
    w = torch.tensor([0.6, -0.8])

    def linear_d(x, labels):
        return x @ w + 0.1

    frame = frame_of(discriminator=linear_d)
    fake = torch.from_numpy(frame.fake)
    expected = torch.sigmoid(-(fake @ w + 0.1))[:, None] * w / len(fake)
    np.testing.assert_allclose(frame.descent, expected.numpy(), rtol=1e-5, atol=1e-9)


def test_the_heat_map_is_d_on_a_grid_rows_are_y():
    frame = frame_of(discriminator=lambda x, labels: 5 * x[:, 1], resolution=16)  # D believes "up is real"
    assert (np.diff(frame.d_map, axis=0) > 0).all() and np.allclose(np.diff(frame.d_map, axis=1), 0)
    raw = frame_of(discriminator=lambda x, labels: 5 * x[:, 1], resolution=16, d_output="score")
    assert raw.d_map.min() == pytest.approx(-5 * 1.05) and raw.d_map.max() == pytest.approx(5 * 1.05)


def test_a_conditional_heat_map_averages_over_labels_weighted_like_the_data():
    real_labels = torch.tensor([0] * 30 + [1] * 10)  # label 0 three times as common as label 1
    logits = torch.tensor([2.0, -1.0])

    def by_label(x, labels):
        return logits[labels]

    frame = compute_frame(TinyGenerator(2, 2), by_label, torch.randn(4, 2), torch.tensor([0, 1, 0, 1]),
                          non_saturating, REAL[:40], real_labels, 0, conditional=True, resolution=8)
    expected = 0.75 * torch.sigmoid(logits[0]) + 0.25 * torch.sigmoid(logits[1])
    assert frame.d_map.shape == (8, 8)
    np.testing.assert_allclose(frame.d_map, np.full((8, 8), expected.item()), rtol=1e-6)
    assert frame.manifold.shape == (2, 21, 21, 2)  # one mesh per label


def test_a_conditional_heat_map_is_coarser_so_it_costs_at_most_four_plain_ones():
    assert frame_of(conditional=True).d_map.shape == (45, 45)  # 8 labels: 8 * 45² <= 4 * 64²
    assert frame_of(conditional=False).d_map.shape == (64, 64)


def test_a_discriminator_may_return_a_tuple():
    two_heads = lambda x, labels: (x.sum(dim=1), torch.zeros(len(x), 8))  # noqa: E731
    frame = frame_of(discriminator=two_heads)
    assert np.isfinite(frame.d_map).all() and np.isfinite(frame.descent).all()


def test_computing_a_frame_leaves_the_networks_as_it_found_them():
    generator, discriminator = TinyGenerator(), TinyDiscriminator()
    generator.train(), discriminator.eval()
    frame_of(generator=generator, discriminator=discriminator)
    assert generator.training and not discriminator.training
    assert all(p.grad is None for p in [*generator.parameters(), *discriminator.parameters()])


def test_a_frame_is_deterministic_despite_dropout():
    """Networks run in eval mode: dropout is off, batch norm uses its running statistics."""
    generator, discriminator = TinyGenerator(), TinyDiscriminator()
    a = frame_of(generator=generator, discriminator=discriminator)
    b = frame_of(generator=generator, discriminator=discriminator)
    np.testing.assert_array_equal(a.d_map, b.d_map)
    np.testing.assert_array_equal(a.descent, b.descent)


def test_the_manifold_is_g_of_the_latent_grid():
    identity = lambda z, labels: z / 3  # noqa: E731
    frame = frame_of(generator=identity)
    np.testing.assert_allclose(frame.manifold[0], latent_plane(2).numpy() / 3, rtol=1e-6)


def test_a_2d_latent_grid_holds_equal_probability_cells():
    plane = latent_plane(2, size=5)
    a = plane[:, 0, 0]
    normal = torch.distributions.Normal(0, 1)
    np.testing.assert_allclose(normal.cdf(a).numpy(), [0.1, 0.3, 0.5, 0.7, 0.9], atol=1e-6)
    assert torch.equal(plane[0, :, 1], a)


@settings(deadline=2000, max_examples=20)
@given(latent_dim=st.integers(3, 128), seed=st.integers(0, 1000))
@example(latent_dim=3, seed=0)  # the bounds, tried every time
@example(latent_dim=128, seed=1000)
def test_a_latent_plane_in_many_dimensions_passes_through_a_typical_point(latent_dim, seed):
    plane = latent_plane(latent_dim, size=7, seed=seed).double()
    assert plane.shape == (7, 7, latent_dim)
    u = plane[1, 3] - plane[0, 3]  # a step along the plane's first axis ...
    v = plane[3, 1] - plane[3, 0]  # ... and along its second
    assert torch.dot(u, v).abs() < 1e-5  # orthogonal directions
    centre = plane[3, 3]  # a = b = 0: the typical point z0, orthogonal to the plane
    assert torch.dot(centre, u).abs() < 1e-4 and torch.dot(centre, v).abs() < 1e-4
    assert torch.equal(plane, latent_plane(latent_dim, size=7, seed=seed).double())


def test_views_refuse_samples_that_are_not_2d_points():
    with pytest.raises(ValueError, match=r"the views draw 2-D points.*shape \(50, 3\)"):
        frame_of(generator=lambda z, labels: torch.zeros(len(z), 3))


def test_a_1d_latent_space_gives_a_curve():
    assert frame_of(latent_dim=1).manifold.shape == (1, 21, 1, 2)


def test_arrows_are_scaled_for_drawing_and_the_longest_clipped():
    descent = np.array([[1.0, 0.0]] * 9 + [[0.0, 100.0]])
    arrows = scaled_arrows(descent)
    lengths = np.linalg.norm(arrows, axis=1)
    assert lengths[-1] == pytest.approx(0.24) and np.all(arrows[:, 1][:-1] == 0)
    assert np.all(scaled_arrows(np.zeros((3, 2))) == 0)


# --- drawing -------------------------------------------------------------------------------------------


def test_one_figure_is_reused_for_every_frame(tmp_path):
    painter = ViewPainter("test")
    painter.save_png(frame_of(1), tmp_path / "a.png")
    figure, artists = painter.figure, len(painter.d_axes.get_children()) + len(painter.g_axes.get_children())
    for step in (2, 3):
        painter.save_png(frame_of(step, n=20 + step), tmp_path / f"{step}.png")
    assert painter.figure is figure
    assert len(painter.d_axes.get_children()) + len(painter.g_axes.get_children()) == artists
    assert (tmp_path / "3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_frames_differ_when_the_step_differs():
    painter = ViewPainter("test")
    assert painter.png_bytes(frame_of(1)) != painter.png_bytes(frame_of(2))


def test_a_conditional_frame_and_a_critic_frame_draw(tmp_path):
    ViewPainter("cgan", num_classes=8).save_png(frame_of(5, conditional=True), tmp_path / "c.png")
    ViewPainter("wgan").save_png(frame_of(5, d_output="score"), tmp_path / "w.png")
    assert Image.open(tmp_path / "c.png").size == Image.open(tmp_path / "w.png").size == (720, 416)


def test_the_gif_has_one_frame_per_frame(tmp_path):
    frames = [frame_of(step) for step in range(1, 6)]
    save_gif(frames, tmp_path / "views.gif", ViewPainter("test"), fps=10)
    gif = Image.open(tmp_path / "views.gif")
    assert gif.n_frames == 5 and gif.info["duration"] == 100 and gif.size == (720, 416)


def test_the_gif_can_be_smaller_than_the_png_frames(tmp_path):
    save_gif([frame_of(1), frame_of(2)], tmp_path / "small.gif", ViewPainter("test"), dpi=40)
    assert Image.open(tmp_path / "small.gif").size == (360, 208)


def test_evenly_spaced_keeps_the_first_and_last():
    assert evenly_spaced(list(range(10)), 4) == [0, 3, 6, 9]
    assert evenly_spaced([1, 2], 4) == [1, 2]


# --- the HTML player -----------------------------------------------------------------------------------


def test_the_player_is_self_contained():
    frames = [PlayerFrame(step, f"modes {step}", b"\x89PNG" + bytes(20)) for step in (100, 200)]
    page = player_html(frames, title="gan <on> ring")
    assert "gan &lt;on&gt; ring" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!data:)[a-z]+:""", page)  # no external URL
    assert "http" not in page.replace("http-equiv", "")
    assert page.count("data:image/png;base64,") == 2


def test_frame_data_cannot_close_the_script_element():
    page = player_html([PlayerFrame(1, "</script><b>", b"\x89PNG" + bytes(20))])
    assert page.count("</script>") == 2  # the JSON's and the player's own


def test_the_recorder_writes_png_frames_a_gif_and_a_player(tmp_path):
    recorder = ViewRecorder(tmp_path / "frames", ViewPainter("test"), max_gif_frames=3)
    for step in (10, 20, 30, 40):
        recorder.add(frame_of(step))
    recorder.finish(tmp_path / "views.gif", tmp_path / "views.html")
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "step_0000010.png", "step_0000020.png", "step_0000030.png", "step_0000040.png"]
    assert Image.open(tmp_path / "views.gif").n_frames == 3
    assert (tmp_path / "views.html").read_text().count("data:image/png;base64,") == 4


@pytest.fixture(scope="module")
def player_page(tmp_path_factory):
    """A player of three real frames, steps 100, 200, 300."""
    painter = ViewPainter("gan on ring")
    frames = [PlayerFrame(step, f"frame {i}", painter.png_bytes(frame_of(step)))
              for i, step in enumerate((100, 200, 300))]
    path = tmp_path_factory.mktemp("player") / "views.html"
    save_player(path, frames, "gan on ring", fps=20)
    return path


CHROMIUM = chromium_path()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium) "
                                                             "to open the HTML player in a real browser")


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM) as started:
        yield started


@needs_chromium
def test_the_player_loads_in_a_real_browser_and_the_slider_changes_the_frame(browser, player_page):
    browser.open(player_page)
    shown = "[document.getElementById('caption').textContent, document.getElementById('frame').dataset.index]"
    assert browser.evaluate(shown) == ["step 100  ·  frame 0", "0"]
    assert browser.evaluate("document.getElementById('frame').naturalWidth") == 720  # the PNG decoded
    before = Image.open(io.BytesIO(browser.screenshot("frame")))

    left, top, width, height = browser.rectangle("slider")
    browser.click(left + width - 2, top + height / 2)  # a click at the slider's right end
    assert browser.evaluate(shown) == ["step 300  ·  frame 2", "2"]
    after = Image.open(io.BytesIO(browser.screenshot("frame")))
    assert before.size == after.size and before.tobytes() != after.tobytes()  # another picture shows

    browser.press("ArrowLeft", "ArrowLeft", 37)  # the keyboard moves the slider too
    assert browser.evaluate(shown) == ["step 200  ·  frame 1", "1"]
    assert browser.problems() == []
    assert all(url.startswith(("file:", "data:")) for url in browser.requested_urls())


@needs_chromium
def test_play_runs_through_the_frames_and_stops_at_the_last(browser, player_page):
    browser.open(player_page)
    left, top, width, height = browser.rectangle("play")
    browser.click(left + width / 2, top + height / 2)
    assert browser.evaluate("document.getElementById('play').textContent") == "Pause"
    browser.evaluate("new Promise(done => setTimeout(done, 400))")  # 20 fps: 3 frames take 100 ms
    assert browser.evaluate("document.getElementById('frame').dataset.index") == "2"
    assert browser.evaluate("document.getElementById('play').textContent") == "Play"
    assert browser.problems() == []

