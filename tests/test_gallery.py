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


def promised_figures() -> list[str]:
    result = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout.split()


def test_quick_mode_writes_every_promised_figure_as_a_png(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
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
        assert path.stat().st_size <= MAX_COMMITTED_BYTES, f"docs/gallery/{name} is over 100 KB"


def test_an_unknown_figure_name_is_refused_with_the_known_ones(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--only", "nope.png", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Unknown figure(s) nope.png" in result.stderr and "cgan_data_flow.png" in result.stderr
