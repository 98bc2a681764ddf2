"""Every tutorial runs top to bottom in quick mode and writes the figures it promises.

Each script runs as a learner runs it, ``python tutorials/NN_name.py --quick``, in a subprocess (the
environment is passed on as it is, ``OMP_NUM_THREADS`` included), with its output redirected to a
temporary folder through ``GANLAB_TUTORIAL_OUT``.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The figures each tutorial promises, relative to its output folder.
FIGURES = {
    "00_watch_a_gan_learn.py": ["ring.png", "plain_vs_fixed.png", "plain-seed0/views.html", "plain-seed0/views.gif",
                                "fixed-seed0/views.html", "fixed-seed0/metrics.json"],
    "01_look_at_the_data.py": ["examples.png", "label_histogram.png", "pixel_values.png"],
    "02_a_plain_gan.py": ["progress.png", "losses_and_accuracy.png", "new_samples.png",
                          "run/final_grid.png", "run/loss_curve.png",
                          "run/metrics.json", "beta1_0.9/metrics.json", "relu_in_d/metrics.json"],
    "03_a_conditional_gan.py": ["d_embeddings.png", "g_embeddings.png", "grid_10x10.png", "same_noise.png",
                                "run/final_grid.png",
                                "run/metrics.json", "no_dropout/metrics.json", "bn_momentum_0.1/metrics.json"],
    "04_compare_gan_and_cgan.py": ["report/report.png", "report/report.html", "class_histogram.png",
                                   "runs/gan/metrics.png", "runs/cgan/metrics.png"],
    "05_write_your_own_variant.py": ["concat_cgan.py", "report/report.png", "report/report.html",
                                     "same_noise.png", "sevens.png"],
    "06_tour_of_variants.py": ["tour_grids.png", "report/report.png", "report/report.html"],
}
SCRIPT_TIMEOUT_S = 300
# Tutorials that print numbers flag them as meaningless in quick mode (tutorial_helpers.warn_if_quick).
PRINTS_NUMBERS = ["00_watch_a_gan_learn.py", "02_a_plain_gan.py", "03_a_conditional_gan.py",
                  "04_compare_gan_and_cgan.py", "05_write_your_own_variant.py", "06_tour_of_variants.py"]
# Tutorials whose metric curves must have several points even in quick mode: file -> at least this many rows.
CURVES = {"04_compare_gan_and_cgan.py": ["runs/gan/metrics.csv", "runs/cgan/metrics.csv"],
          "05_write_your_own_variant.py": ["runs/cgan/metrics.csv"]}


def tutorial_scripts() -> list[str]:
    return sorted(p.name for p in TUTORIALS.glob("[0-9][0-9]_*.py"))


def run_tutorial(name: str, out: Path, quick_flag: bool = True, extra_env: dict | None = None):
    """Run one tutorial as a learner would; ``--quick`` on its command line, or quick mode from ``extra_env``."""
    env = {**os.environ, "GANLAB_TUTORIAL_OUT": str(out)}
    env.pop("GANLAB_QUICK", None)  # quick mode comes from the flag or from extra_env, never from the caller
    env.update(extra_env or {})
    command = [sys.executable, str(TUTORIALS / name)] + (["--quick"] if quick_flag else [])
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)


def output_folder(out: Path, name: str) -> Path:
    return out / name.split("_")[0]


def test_every_tutorial_has_its_list_of_figures():
    assert tutorial_scripts() == sorted(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_tutorial_runs_in_quick_mode_and_writes_its_figures(name, tmp_path):
    result = run_tutorial(name, tmp_path)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    assert "(quick mode)" in result.stdout
    folder = output_folder(tmp_path, name)
    for figure in FIGURES[name]:
        path = folder / figure
        assert path.is_file() and path.stat().st_size > 0, f"{name} did not write {figure}"
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{figure} is not a PNG"
    if name in PRINTS_NUMBERS:
        assert "QUICK MODE:" in result.stdout, f"{name} prints numbers in quick mode without saying they mean nothing"
    for curve in CURVES.get(name, []):
        evaluations = len((folder / curve).read_text().splitlines()) - 1  # the header, then a row each
        assert evaluations >= 3, f"{name}: {curve} has {evaluations} evaluation(s), too few to draw a curve"


def test_quick_mode_from_the_environment_and_a_rerun_replaces_only_the_tutorials_own_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("not the tutorial's")
    for _ in range(2):  # the second run finds the first one's folder and replaces it
        result = run_tutorial("01_look_at_the_data.py", tmp_path, quick_flag=False, extra_env={"GANLAB_QUICK": "1"})
        assert result.returncode == 0, result.stderr
        assert "(quick mode)" in result.stdout
    assert (tmp_path / "keep.txt").read_text() == "not the tutorial's"
    assert (tmp_path / "01" / "examples.png").is_file()


def test_an_existing_folder_that_a_tutorial_did_not_make_is_left_alone(tmp_path):
    stranger = tmp_path / "01"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    result = run_tutorial("01_look_at_the_data.py", tmp_path)
    assert result.returncode != 0
    assert "was not made by a tutorial" in result.stdout + result.stderr
    assert (stranger / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_tutorial_is_in_percent_cell_format(name):
    text = (TUTORIALS / name).read_text()
    assert text.startswith("# %% [markdown]\n# # "), "a tutorial opens with a markdown cell and its title"
    assert len(re.findall(r"^# %%$", text, re.MULTILINE)) >= 2, "code cells start with '# %%'"
    assert not re.search(r"(?<![\w.])__file__", text), "__file__ is undefined in a notebook"


@pytest.mark.parametrize("readme", ["README.md", "README.zh-CN.md"])
def test_readme_lists_every_tutorial(readme):
    """Both the English index and the Chinese companion page (titles and takeaways) cover every tutorial."""
    text = (TUTORIALS / readme).read_text(encoding="utf-8")
    for name in tutorial_scripts():
        assert name in text, f"tutorials/{readme} does not mention {name}"
