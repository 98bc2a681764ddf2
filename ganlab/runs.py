"""The run folder: everything a run writes, and everything needed to rebuild it.

This module owns every path and every file format inside a run folder; nothing else builds them.

    runs/cgan-20261128-101500/
      config.json              every setting, the dataset's shape, versions, device
      losses.csv               step, d_loss, g_loss, d_real_acc, d_fake_acc, plugins' named terms
      loss_curve.png           D and G losses against steps
      samples/step_000200.png  the fixed-latent grid every ``sample_every`` steps
      final_grid.png           10 samples per class (row = class) from the final generator
      metrics.json             the final evaluation (``ganlab eval`` writes it too)
      metrics.csv, metrics.png evaluations every ``--eval-every`` steps
      events.log               warnings raised during training (e.g. by the watchdog)
      plugins/lsgan.py         copies of the ``--plugin`` files the run was trained with
      checkpoints/step_020000.pt  networks, optimizers, RNG states; ``torch.load(weights_only=True)``

Every file is written atomically (see :mod:`ganlab.files`).
"""
from __future__ import annotations

import csv
import datetime
import io
import json
import os
import random
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.config import RunConfig
from ganlab.data import DatasetSpec
from ganlab.errors import CheckpointError, ConfigError
from ganlab.files import atomic_save, atomic_write_bytes, atomic_write_json, atomic_write_text
from ganlab.version import __version__

CHECKPOINT_FORMAT = 2  # 2: plugin state and the sampling generator (format 1 still loads)
LOSS_COLUMNS = ("step", "d_loss", "g_loss", "d_real_acc", "d_fake_acc")  # then plugins' named terms
METRIC_CURVE_COLUMNS = ("step", "seconds", "n_samples")  # then the metrics of ganlab.metrics.CURVE_METRICS
_CHECKPOINT_NAME = re.compile(r"step_(\d+)\.pt$")


def default_run_dir(variant: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{variant.replace('+', '_')}-{stamp}"


class RunFolder:
    """Paths inside one run folder, and the readers and writers of its files."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.config_file = self.path / "config.json"
        self.losses_file = self.path / "losses.csv"
        self.loss_curve_file = self.path / "loss_curve.png"
        self.final_grid_file = self.path / "final_grid.png"
        self.metrics_file = self.path / "metrics.json"  # the final evaluation
        self.metrics_csv_file = self.path / "metrics.csv"  # evaluations during training
        self.metrics_curve_file = self.path / "metrics.png"
        self.events_file = self.path / "events.log"
        self.samples_dir = self.path / "samples"
        self.checkpoints_dir = self.path / "checkpoints"
        self.plugins_dir = self.path / "plugins"

    @classmethod
    def create(cls, path: str | os.PathLike) -> RunFolder:
        """Make a new, writable run folder; refuse one that already holds a run."""
        folder = cls(path)
        if folder.config_file.exists():
            raise ConfigError(
                f"--out {folder.path} already holds a run. Choose another --out, or delete that "
                f"folder first."
            )
        try:
            folder.samples_dir.mkdir(parents=True, exist_ok=True)
            folder.checkpoints_dir.mkdir(exist_ok=True)
            probe = folder.path / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"Cannot write the run folder --out {folder.path}: {exc.strerror or exc}. Choose a "
                f"folder you can write to."
            ) from None
        return folder

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunFolder:
        folder = cls(path)
        if not folder.config_file.is_file():
            raise CheckpointError(
                f"{folder.path} is not a ganlab run folder (it has no config.json). Give the folder "
                f"that `ganlab run` printed, e.g. runs/cgan-20261128-101500."
            )
        return folder

    # ---- config.json ----------------------------------------------------------------------------
    def write_config(self, config: RunConfig, spec: DatasetSpec, conditional: bool, device: str) -> None:
        atomic_write_json(self.config_file, {
            "config": config.to_dict(),
            "dataset": asdict(spec),
            "conditional": conditional,
            "device": device,
            "versions": {"ganlab": __version__, "torch": torch.__version__},
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
        })

    def read_config(self) -> tuple[RunConfig, DatasetSpec, dict[str, Any]]:
        try:
            saved = json.loads(self.config_file.read_text())
            config = RunConfig.from_dict(saved["config"])
            spec = spec_from_dict(saved["dataset"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(
                f"{self.config_file} is unreadable or incomplete ({exc}). It is written by "
                f"`ganlab run`; restore it from a copy, or train a new run."
            ) from None
        return config, spec, saved

    # ---- plugin files ---------------------------------------------------------------------------
    def keep_plugin_files(self, files: list[str]) -> list[str]:
        """Copy ``--plugin`` files into the run folder; return their paths relative to it.

        The run then carries the code it needs to be rebuilt, and its config.json names no path
        outside the folder.
        """
        kept = []
        for file in files:
            target = self.plugins_dir / Path(file).name
            target.parent.mkdir(exist_ok=True)
            atomic_write_bytes(target, Path(file).read_bytes())
            kept.append(target.relative_to(self.path).as_posix())
        return kept

    def plugin_paths(self, files: list[str]) -> list[str]:
        """The plugin files named in config.json, refused if they point outside the run folder."""
        root = self.path.resolve()
        paths = []
        for file in files:
            path = (root / file).resolve()
            if Path(file).is_absolute() or not path.is_relative_to(root / self.plugins_dir.name):
                raise CheckpointError(
                    f"{self.config_file} names the plugin file {file!r}, outside the run folder's "
                    f"plugins/ folder. ganlab does not run code from paths a config file points to; "
                    f"copy the plugin into {root / 'plugins'} and name it as plugins/<file>.py."
                )
            paths.append(str(path))
        return paths

    # ---- checkpoints ----------------------------------------------------------------------------
    def checkpoint_file(self, step: int) -> Path:
        return self.checkpoints_dir / f"step_{step:06d}.pt"

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, oldest step first."""
        found = [p for p in self.checkpoints_dir.glob("step_*.pt") if _CHECKPOINT_NAME.search(p.name)]
        return sorted(found, key=lambda p: int(_CHECKPOINT_NAME.search(p.name).group(1)))

    def latest_checkpoint(self) -> Path:
        found = self.checkpoints()
        if not found:
            raise CheckpointError(
                f"{self.path} has no checkpoint yet (checkpoints/step_*.pt). Let the run reach its "
                f"first checkpoint, or lower --checkpoint-every."
            )
        return found[-1]

    # ---- losses.csv -----------------------------------------------------------------------------
    def write_losses(self, records: list[dict[str, float]]) -> None:
        """One row per step: the core's columns, then every named term a plugin logged (in order seen)."""
        extra = list(dict.fromkeys(key for record in records for key in record if key not in LOSS_COLUMNS))
        atomic_write_text(self.losses_file, _csv_text((*LOSS_COLUMNS, *extra), records))

    def read_losses(self) -> list[dict[str, float]]:
        if not self.losses_file.exists():
            return []
        with open(self.losses_file, newline="") as handle:
            return [{k: (int(v) if k == "step" else float(v)) for k, v in row.items() if v != ""}
                    for row in csv.DictReader(handle)]

    # ---- metrics.json, metrics.csv --------------------------------------------------------------
    def write_metrics(self, metrics: dict[str, Any]) -> None:
        atomic_write_json(self.metrics_file, metrics)

    def read_metrics(self) -> dict[str, Any] | None:
        """The final evaluation, or None when the run has none yet."""
        if not self.metrics_file.exists():
            return None
        return json.loads(self.metrics_file.read_text())

    def write_metric_curve(self, rows: list[dict[str, Any]], metric_names: tuple[str, ...]) -> None:
        """Evaluations during training: one row per evaluation, empty cells for metrics not measured."""
        rows = [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]
        atomic_write_text(self.metrics_csv_file, _csv_text((*METRIC_CURVE_COLUMNS, *metric_names), rows))

    def read_metric_curve(self) -> list[dict[str, Any]]:
        if not self.metrics_csv_file.exists():
            return []
        with open(self.metrics_csv_file, newline="") as handle:
            return [{k: (int(v) if k in ("step", "n_samples") else (float(v) if v != "" else None))
                     for k, v in row.items()} for row in csv.DictReader(handle)]

    # ---- events.log -----------------------------------------------------------------------------
    def log_event(self, message: str) -> None:
        """Append one line to events.log (rewritten whole, atomically: a crash cannot cut a line)."""
        previous = self.events_file.read_text() if self.events_file.exists() else ""
        atomic_write_text(self.events_file, previous + message.rstrip("\n") + "\n")


def _csv_text(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column, "")) for column in columns])
    return text.getvalue()


def _cell(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def spec_from_dict(values: dict[str, Any]) -> DatasetSpec:
    return DatasetSpec(
        name=values["name"], image_shape=tuple(values["image_shape"]),
        num_classes=int(values["num_classes"]), class_names=tuple(values["class_names"]),
    )


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write a checkpoint atomically: a kill at any instant leaves the previous file intact."""
    atomic_save(path, lambda handle: torch.save({"format": CHECKPOINT_FORMAT, **payload}, handle))


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint without running any code that might be inside it (``weights_only=True``)."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"Checkpoint {path} does not exist.") from None
    except Exception as exc:  # truncated, corrupt, or a pickle that asks for arbitrary code
        raise CheckpointError(
            f"Checkpoint {path} cannot be loaded safely ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}). It is corrupt, truncated, or not a "
            f"ganlab checkpoint; use an earlier checkpoint from the same run folder."
        ) from None
    if not isinstance(payload, dict) or "format" not in payload:
        raise CheckpointError(f"{path} is not a ganlab checkpoint (no format marker).")
    if payload["format"] > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"Checkpoint {path} has format {payload['format']}, newer than this ganlab understands "
            f"({CHECKPOINT_FORMAT}). Upgrade ganlab: pip install -U ganlab."
        )
    return payload


def check_checkpoint_matches(payload: dict[str, Any], variant: str, spec: DatasetSpec, path) -> None:
    """Refuse a checkpoint made by another variant or for data of another shape."""
    if payload.get("variant") != variant:
        raise CheckpointError(
            f"Checkpoint {path} was trained with variant \"{payload.get('variant')}\", not "
            f"\"{variant}\". Use a checkpoint from a {variant} run, or --variant "
            f"{payload.get('variant')}."
        )
    saved = payload.get("spec", {})
    if tuple(saved.get("image_shape", ())) != tuple(spec.image_shape) or \
            saved.get("num_classes") != spec.num_classes:
        raise CheckpointError(
            f"Checkpoint {path} is for images {tuple(saved.get('image_shape', ()))} with "
            f"{saved.get('num_classes')} classes, not {tuple(spec.image_shape)} with "
            f"{spec.num_classes}. Use a checkpoint trained on the same dataset."
        )


def rng_state() -> dict[str, Any]:
    """Every random generator the run draws from, in a form ``weights_only`` loading accepts."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put every random generator back where :func:`rng_state` found it."""
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
