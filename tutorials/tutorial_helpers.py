"""What every tutorial needs besides ganlab: quick mode, an output folder, and showing a figure.

- Quick mode (``--quick`` on the command line, or ``GANLAB_QUICK=1``) shrinks steps and sample counts
  so that every tutorial runs in seconds: that is how CI runs them. The pictures are then noise, but
  every cell runs.
- Figures go to ``tutorials/out/<tutorial>/``, or under ``$GANLAB_TUTORIAL_OUT`` when it is set.
- :func:`show` displays a saved figure when the tutorial runs in Jupyter or VS Code's interactive
  window, and only prints its path when it runs as a script (so a script never waits for a window).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

QUICK = "--quick" in sys.argv[1:] or os.environ.get("GANLAB_QUICK", "").strip() not in ("", "0")

MARKER = ".ganlab-tutorial-output"  # only folders with this file in them are ever emptied


def choose(full, quick):
    """``full`` normally, ``quick`` in quick mode."""
    return quick if QUICK else full


def warn_if_quick(what: str = "The numbers below") -> None:
    """Say, beside numbers printed in quick mode, that they mean nothing (a few dozen steps of training)."""
    if QUICK:
        print(f"QUICK MODE: {what} come from a few dozen training steps and mean nothing; run without "
              f"--quick for real ones.")


def load_mnist_for_evaluation():
    """MNIST; in quick mode with only 1 000 test images, so each evaluation is cheaper (and noisier)."""
    import dataclasses

    from ganlab import load_dataset

    mnist = load_dataset("mnist")
    if QUICK:
        mnist = dataclasses.replace(mnist, x_test=mnist.x_test[:1000], y_test=mnist.y_test[:1000])
    return mnist


def output_dir(name: str) -> Path:
    """A fresh output folder for one tutorial: ``$GANLAB_TUTORIAL_OUT/<name>`` or ``tutorials/out/<name>``.

    What a previous run of the same tutorial wrote there is removed first (training refuses to write
    into a run folder that already holds a run). A folder this module did not make is never deleted.
    """
    base = Path(os.environ.get("GANLAB_TUTORIAL_OUT") or Path(__file__).resolve().parent / "out")
    folder = (base / name).resolve()
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise SystemExit(f"{folder} exists and was not made by a tutorial; set GANLAB_TUTORIAL_OUT "
                             f"to another folder, or empty this one.")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).touch()
    print(f"Figures and runs of this tutorial go to {folder}" + ("  (quick mode)" if QUICK else ""))
    return folder


def in_notebook() -> bool:
    """True inside Jupyter, VS Code's interactive window or IPython (where images can be shown)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def show(path) -> None:
    """Show a saved PNG inline in a notebook; as a script, say where it is."""
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))
    else:
        print(f"  [figure] {path}")
