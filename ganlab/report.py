"""Figures about a run: the loss curves (the comparison report grows here too)."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ganlab.files import atomic_save  # noqa: E402


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
    fig, ax = plt.subplots(figsize=(7, 3.5))
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
    plt.close(fig)
