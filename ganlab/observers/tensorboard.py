"""TensorBoard logging, written as an ordinary observer plugin (``pip install "ganlab[tensorboard]"``).

It writes TensorBoard event files into ``<run folder>/tensorboard/``; watch a run, or compare several,
with ``tensorboard --logdir runs/``. What it logs, by tag:

- ``train/<key>``: every number in each step's record, at that step: ``d_loss``, ``g_loss``,
  ``d_real_acc``, ``d_fake_acc``, and any term a plugin adds to the records (one point per step,
  exactly the rows of ``losses.csv``);
- ``eval/<metric>``: the metrics of each evaluation (``--eval-every``, and the final one);
- ``samples/progress``: the fixed-noise grid every ``sample_every`` steps; ``samples/final_grid``: the
  final grid, 10 samples per row (row = class for a conditional run);
- the run's settings as *hparams* (TensorBoard's HPARAMS tab puts runs side by side by setting).

Event files are appended to while the run trains, so that TensorBoard can show it live: unlike the
run's other files they are not written atomically. TensorBoard's reader checks every record and
ignores a torn last one, so a killed run loses at most the records not yet flushed (``FLUSH_SECONDS``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ganlab.errors import ConfigError, GanlabError
from ganlab.hookspecs import hookimpl
from ganlab.sampling import mosaic, to_uint8_images

FOLDER_NAME = "tensorboard"  # inside the run folder
FLUSH_SECONDS = 10  # how stale a live view may be (torch's default is 120 s)
GRID_COLUMNS = 10  # samples per row in a sample grid
INSTALL_HINT = 'pip install "ganlab[tensorboard]"'


class TensorBoardMissing(GanlabError):
    """TensorBoard logging was asked for, but the tensorboard package is not installed."""


def summary_writer_class():
    """``torch.utils.tensorboard.SummaryWriter``, or a one-paragraph error saying how to install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch raises ImportError when the tensorboard package is absent
        raise TensorBoardMissing(
            f"TensorBoard logging needs the tensorboard package, which is not installed here ({exc}). "
            f"Install it with `{INSTALL_HINT}` (or `pip install tensorboard`), then run again; or leave "
            f"out --tensorboard: the run folder's losses.csv, metrics.csv and sample grids hold the "
            f"same numbers and pictures."
        ) from None
    return SummaryWriter


class TensorBoardLogger:
    """Writes the run's numbers, sample grids and settings as TensorBoard events.

    :param log_dir: where the event files go; ``None`` means ``<run folder>/tensorboard``.
    :raises TensorBoardMissing: at once, when the tensorboard package is not installed.
    """

    def __init__(self, log_dir: str | Path | None = None):
        self.summary_writer = summary_writer_class()
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.writer = None
        self.session_end = None

    @hookimpl
    def ganlab_train_start(self, run):
        log_dir = self.log_dir or (run.folder.path / FOLDER_NAME if run.folder else None)
        if log_dir is None:
            raise ConfigError("TensorBoard logging needs a folder to write to, and this run writes no run "
                              "folder. Give TensorBoardLogger(log_dir=...) a folder, or train with "
                              "write_files=True.")
        # A resumed run continues from its checkpoint's step: purge_step tells TensorBoard to drop what
        # an earlier session logged after that step (its numbers belong to steps that are done again).
        self.writer = self.summary_writer(log_dir=str(log_dir), flush_secs=FLUSH_SECONDS,
                                          purge_step=run.step + 1 if run.step else None)
        self.write_hparams(run.config)

    @hookimpl
    def ganlab_step_end(self, run, step, records):
        for record in records:
            for key, value in record.items():
                if key != "step" and is_number(value):
                    self.writer.add_scalar(f"train/{key}", value, record["step"])

    @hookimpl
    def ganlab_evaluated(self, run, step, metrics):
        """The metrics of one evaluation, as :class:`ganlab.evaluation.Evaluator` computes them."""
        for key, value in metrics.items():
            if is_number(value):
                self.writer.add_scalar(f"eval/{key}", value, step)

    @hookimpl
    def ganlab_samples_made(self, run, step, images, labels, path):
        tag = "samples/progress" if Path(path).stem.startswith("step_") else f"samples/{Path(path).stem}"
        if images.dim() == 4:  # (N, C, H, W) in [-1, 1]: one mosaic, as the run folder's grids
            grid = mosaic(to_uint8_images(images), min(GRID_COLUMNS, len(images)))
            self.writer.add_image(tag, grid, step, dataformats="HW" if grid.ndim == 2 else "HWC")
        else:  # points, not pictures (2-D toy data): log the figure the trainer saved
            from matplotlib.image import imread

            self.writer.add_image(tag, imread(path)[..., :3], step, dataformats="HWC")

    @hookimpl(trylast=True)  # after every other observer, so the final evaluation is still written
    def ganlab_train_end(self, run, outcome):
        if self.writer is None:
            return
        if outcome == "finished":
            self.writer.file_writer.add_summary(self.session_end)  # the HPARAMS tab's "status: success"
        self.writer.close()
        self.writer = None

    def write_hparams(self, config) -> None:
        """The settings, as TensorBoard's HPARAMS tab reads them (in this run's own folder)."""
        from torch.utils.tensorboard.summary import hparams

        # The metrics the HPARAMS table shows beside each run's settings (their latest values).
        metric_tags = {tag: None for tag in ("train/d_loss", "train/g_loss", "eval/fd",
                                             "eval/conditional_accuracy", "eval/precision", "eval/recall")}
        experiment, session_start, self.session_end = hparams(flat_settings(config.to_dict()), metric_tags)
        self.writer.file_writer.add_summary(experiment)
        self.writer.file_writer.add_summary(session_start)


def tensorboard_observer(log_dir: str | Path | None = None) -> TensorBoardLogger:
    """The observer to register for ``--tensorboard``: ``pm.register(tensorboard_observer(), "tensorboard")``.

    Raises :class:`TensorBoardMissing` (a one-paragraph install hint) when tensorboard is not installed,
    before anything is trained.
    """
    return TensorBoardLogger(log_dir)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def flat_settings(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The config as TensorBoard hparams: numbers and strings; nested dicts as ``settings.gp_weight``,
    lists as JSON text, ``None`` left out (TensorBoard has no value for "unset")."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_settings(value, prefix=f"{name}."))
        elif isinstance(value, bool):
            flat[name] = str(value).lower()
        elif isinstance(value, (int, float, str)):
            flat[name] = value
        elif value is not None:
            flat[name] = json.dumps(value)
    return flat
