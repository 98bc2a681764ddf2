"""``scripts/make_gallery.py`` draws every figure it promises, and the gallery in the repo holds them all.

The script runs as anyone reruns it, ``python scripts/make_gallery.py --quick --out DIR``, in a
subprocess; the figures it promises are what ``--list`` prints.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_gallery.py"
GALLERY = ROOT / "docs" / "gallery"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_COMMITTED_BYTES = 100 * 1024  # small PNGs: the repository carries every one of them
# ... except the comparison reports: a whole report.png (table, grids, losses, curves) at a legible size
MAX_REPORT_BYTES = 800 * 1024


def promised_figures() -> list[str]:
    result = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout.split()


def test_quick_mode_writes_every_promised_figure_as_a_png(tmp_path):
    """Every figure, from tiny runs of every reference variant (about a minute of CPU time)."""
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    names = promised_figures()
    assert names, "the script promises no figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    for name in names:
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE, f"{name} is not a PNG"


def test_the_committed_gallery_holds_every_figure_and_each_is_small():
    for name in promised_figures():
        path = GALLERY / name
        assert path.is_file(), f"docs/gallery/{name} is missing: run python scripts/make_gallery.py"
        assert path.read_bytes()[:8] == PNG_SIGNATURE, f"docs/gallery/{name} is not a PNG"
        limit = MAX_REPORT_BYTES if name.startswith("report_") else MAX_COMMITTED_BYTES
        assert path.stat().st_size <= limit, f"docs/gallery/{name} is over {limit // 1024} KB"


def test_an_unknown_figure_name_is_refused_with_the_known_ones(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--only", "nope.png", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Unknown figure(s) nope.png" in result.stderr and "cgan_data_flow.png" in result.stderr


def test_the_full_budget_needs_a_runs_folder_for_its_hours_of_training(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0 and "--runs DIR is required" in result.stderr


def test_a_finished_run_in_the_runs_folder_is_reused_not_trained_again(tmp_path):
    command = [sys.executable, str(SCRIPT), "--quick", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path),
               "--only", "cgan_losses.png"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "training cgan" in first.stdout and (tmp_path / "runs" / "cgan" / "metrics.json").is_file()
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "training" not in second.stdout and (tmp_path / "cgan_losses.png").is_file()


def test_the_gallery_promises_the_reference_figures_of_every_run_and_variant():
    names = set(promised_figures())
    for run in ("cgan", "gan", "dcgan", "wgan-gp", "acgan", "projection"):
        assert {f"{run}_progress.png", f"{run}_final_grid.png", f"{run}_losses.png"} <= names
    assert {"report_gan_vs_cgan.png", "report_zoo.png", "cgan_real_vs_fake.png", "gan_real_vs_fake.png",
            "cgan_embeddings.png", "gan_data_flow.png", "cgan_data_flow.png", "training_step.png"} <= names
