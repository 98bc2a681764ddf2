"""Make the tutorials' notebooks from their percent-format scripts, so both stay the same tutorial.

    python scripts/make_notebooks.py           # writes tutorials/NN_name.ipynb beside each script
    python scripts/make_notebooks.py --check   # only says which notebooks are stale (exit status 1)

The scripts are the source: edit ``tutorials/NN_name.py``, then run this. In the percent format a line
``# %%`` starts a code cell and ``# %% [markdown]`` a text cell whose lines are comments (``# text``).
The notebooks are written without outputs (a notebook's outputs are made by running it), in nbformat
4.5 with the ``python3`` kernel, which Jupyter, VS Code and hosted notebook services all open. They sit
beside the scripts because they import ``tutorial_helpers.py`` from their own folder.

Only the standard library is used, and the output depends on nothing but the script: the test that
finds a stale notebook (``tests/test_notebooks.py``) runs in every environment, with no notebook
packages installed.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
CELL_MARKER = re.compile(r"^# %%(?P<markdown> \[markdown\])?\s*$")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


class PercentFormatError(ValueError):
    """A script that is not in the percent format this converter reads."""


def split_cells(text: str, name: str = "<script>") -> list[tuple[str, list[str]]]:
    """``[(kind, lines), ...]`` with kind ``"code"`` or ``"markdown"``; the ``# `` of text lines removed."""
    cells: list[tuple[str, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        marker = CELL_MARKER.match(line)
        if marker:
            cells.append(("markdown" if marker["markdown"] else "code", []))
        elif not cells:
            if line.strip():
                raise PercentFormatError(f"{name}, line {number}: text before the first '# %%' marker. "
                                         f"Start the script with '# %% [markdown]' (its title) or '# %%'.")
        elif cells[-1][0] == "markdown" and line.strip():
            if not (line == "#" or line.startswith("# ")):
                raise PercentFormatError(f"{name}, line {number}: a text cell's lines must start with '# ' "
                                         f"(or be '#' alone); start a code cell with '# %%' first.")
            cells[-1][1].append(line[2:])
        else:
            cells[-1][1].append(line if cells[-1][0] == "code" else "")
    return [(kind, strip_blank_lines(lines)) for kind, lines in cells]


def strip_blank_lines(lines: list[str]) -> list[str]:
    """The lines without blank ones at the start and the end (they only separate cells in a script)."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def notebook_of(text: str, name: str = "<script>") -> dict:
    """The nbformat 4.5 notebook (as a dict) of a percent-format script; no outputs."""
    cells = []
    for index, (kind, lines) in enumerate(split_cells(text, name)):
        # Jupyter stores a cell's source as its lines, each with its newline except the last.
        source = [line + "\n" for line in lines[:-1]] + lines[-1:]
        cell = {"cell_type": kind, "id": f"cell-{index:03d}", "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def notebook_text(text: str, name: str = "<script>") -> str:
    """The notebook as Jupyter itself writes it (one-space indent, sorted keys), so saving it unchanged
    in Jupyter leaves the file unchanged."""
    return json.dumps(notebook_of(text, name), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def tutorial_scripts(folder: Path = TUTORIALS) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.py"))


def stale_notebooks(folder: Path = TUTORIALS) -> list[str]:
    """Why each out-of-date notebook is out of date: missing, different from its script, or orphaned."""
    problems = []
    for script in tutorial_scripts(folder):
        notebook = script.with_suffix(".ipynb")
        if not notebook.exists():
            problems.append(f"{notebook.name} is missing")
        elif notebook.read_text(encoding="utf-8") != notebook_text(script.read_text(encoding="utf-8"), script.name):
            problems.append(f"{notebook.name} differs from {script.name}")
    scripts = {script.stem for script in tutorial_scripts(folder)}
    problems += [f"{nb.name} has no script" for nb in sorted(folder.glob("[0-9][0-9]_*.ipynb"))
                 if nb.stem not in scripts]
    return problems


def write_notebooks(folder: Path = TUTORIALS) -> list[Path]:
    """Write every script's notebook; remove notebooks whose script is gone. Returns what changed."""
    from ganlab.files import atomic_write_text

    changed = []
    for script in tutorial_scripts(folder):
        notebook = script.with_suffix(".ipynb")
        text = notebook_text(script.read_text(encoding="utf-8"), script.name)
        if not notebook.exists() or notebook.read_text(encoding="utf-8") != text:
            atomic_write_text(notebook, text)
            changed.append(notebook)
    scripts = {script.stem for script in tutorial_scripts(folder)}
    for orphan in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        if orphan.stem not in scripts:
            orphan.unlink()
            changed.append(orphan)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is stale")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = stale_notebooks()
            for problem in problems:
                print(f"stale: {problem}")
            if problems:
                print("Run `python scripts/make_notebooks.py` to bring the notebooks up to date.")
            return 1 if problems else 0
        changed = write_notebooks()
    except PercentFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"{'removed' if not path.exists() else 'wrote'} {path.relative_to(TUTORIALS.parent)}")
    print(f"{len(tutorial_scripts())} notebooks up to date" + ("" if changed else " (nothing changed)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
