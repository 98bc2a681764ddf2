"""Every image a README, a guide or a tutorial shows is in the repository, and every local link resolves.

Pages: every ``*.md`` file of the repository (outside virtual environments, build and output folders)
and the Markdown cells of the tutorials (``# ``-prefixed lines of ``tutorials/NN_*.py``). Links inside
code blocks and inline code are not links. Images must be local files: a picture on another server
can change or vanish, and does not show offline.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_FOLDERS = {".git", "node_modules", "build", "dist", "runs", "report", "out"}
TEXT = r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]"  # [text], which may hold one level of brackets: [E_G[y]]
TARGET = r"\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"  # (path) or (<path> "title")
IMAGE = re.compile(rf"!{TEXT}{TARGET}|<img\s[^>]*src=\"(?P<html>[^\"]+)\"")
LINK = re.compile(rf"(?<!!){TEXT}{TARGET}")
REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def pages() -> list[Path]:
    found = [p for p in ROOT.rglob("*.md")
             if not any(part in SKIPPED_FOLDERS or part.startswith(".venv") or part.endswith(".egg-info")
                        for part in p.relative_to(ROOT).parts[:-1])]
    return sorted(found + sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py")))


def markdown_of(page: Path) -> str:
    """The page's Markdown, with code blocks and inline code blanked out (they hold no links)."""
    text = page.read_text(encoding="utf-8")
    if page.suffix == ".py":  # a tutorial: its Markdown cells are comment lines
        text = "\n".join(line[2:] for line in text.splitlines() if line.startswith("# "))
    text = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def local_target(page: Path, target: str) -> Path:
    return (page.parent / target.split("#")[0]).resolve()


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", pages(), ids=name)
def test_every_image_the_page_shows_is_a_file_in_the_repository(page):
    for match in IMAGE.finditer(markdown_of(page)):
        target = match["target"] or match["html"]
        assert not REMOTE.match(target), f"{name(page)} shows a remote image {target}; keep images in the repository"
        path = local_target(page, target)
        assert path.is_file(), f"{name(page)} shows {target}, which does not exist"
        assert ROOT in path.parents, f"{name(page)} shows {target}, outside the repository"


@pytest.mark.parametrize("page", pages(), ids=name)
def test_every_local_link_resolves(page):
    for match in LINK.finditer(markdown_of(page)):
        target = match["target"]
        if REMOTE.match(target) or target.startswith("#"):
            continue
        assert local_target(page, target).exists(), f"{name(page)} links to {target}, which does not exist"


def test_the_pages_include_the_readmes_the_guides_and_the_tutorials():
    names = {name(p) for p in pages()}
    assert {"README.md", "README.zh-CN.md", "docs/from-the-keras-tutorial.md", "docs/zh/glossary.md",
            "tutorials/README.zh-CN.md", "tutorials/02_a_plain_gan.py"} <= names


def test_the_readme_shows_the_cgan_diagram():
    images = [m["target"] for m in IMAGE.finditer(markdown_of(ROOT / "README.md"))]
    assert "docs/gallery/cgan_data_flow.png" in images


# What each tutorial must show from docs/gallery/: the diagrams (02, 03) and the full runs' results
# beside the learner's own ("what you should see at the defaults").
TUTORIAL_GALLERY = {
    "02_a_plain_gan.py": {"gan_data_flow.png", "training_step.png", "gan_progress.png", "gan_final_grid.png",
                          "gan_losses.png", "gan_real_vs_fake.png"},
    "03_a_conditional_gan.py": {"cgan_data_flow.png", "cgan_progress.png", "cgan_embeddings.png",
                                "cgan_final_grid.png", "cgan_real_vs_fake.png"},
    "04_compare_gan_and_cgan.py": {"report_gan_vs_cgan.png"},
    "05_write_your_own_variant.py": {"cgan_progress.png"},
    "06_tour_of_variants.py": {"report_zoo.png"},
}


def gallery_images(page: Path) -> set[str]:
    shown = (local_target(page, m["target"] or m["html"]) for m in IMAGE.finditer(markdown_of(page)))
    return {path.name for path in shown if path.parent == ROOT / "docs" / "gallery"}


@pytest.mark.parametrize("script", sorted(TUTORIAL_GALLERY))
def test_each_tutorial_shows_the_diagrams_and_full_run_results_from_the_gallery(script):
    missing = TUTORIAL_GALLERY[script] - gallery_images(ROOT / "tutorials" / script)
    assert not missing, f"tutorials/{script} does not show {sorted(missing)} from docs/gallery/"


def test_the_readme_shows_the_grid_the_defaults_give():
    assert "cgan_final_grid.png" in gallery_images(ROOT / "README.md")


def test_the_chinese_tutorial_guide_covers_every_tutorial():
    """A new tutorial must get its Chinese title and takeaways too."""
    guide = (ROOT / "tutorials" / "README.zh-CN.md").read_text(encoding="utf-8")
    for script in sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py")):
        assert f"]({script.name})" in guide, f"tutorials/README.zh-CN.md does not cover {script.name}"


def test_a_missing_image_and_a_broken_link_are_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("![a](missing.png) [b](nowhere.md) `![c](in-code.png)`\n```\n![d](in-block.png)\n```\n"
                    "![z ⊙ E_G[y] → G](docs/x.png)\n", encoding="utf-8")
    text = markdown_of(page)
    assert [m["target"] for m in IMAGE.finditer(text)] == ["missing.png", "docs/x.png"]
    assert [m["target"] for m in LINK.finditer(text)] == ["nowhere.md"]
    assert not local_target(page, "missing.png").exists()
