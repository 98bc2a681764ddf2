"""The run folder: everything a run writes, and everything needed to rebuild it.

This module owns every path and every file format inside a run folder (the checkpoint files' own
format is :mod:`ganlab.checkpoints`); nothing else builds them.

    runs/cgan-20261128-101500/
      config.json              every setting, the dataset's shape, versions, device, processes (torchrun)
      losses.csv               step, d_loss, g_loss, d_real_acc, d_fake_acc, plugins' named terms
      loss_curve.png           D and G losses against steps
      samples/step_000200.png  the fixed-latent grid every ``sample_every`` steps
      final_grid.png           10 samples per class (row = class) from the final generator
      metrics.json             the final evaluation (``ganlab eval`` writes it too)
      metrics.csv, metrics.png evaluations every ``--eval-every`` steps
      events.log               warnings raised during training (e.g. by the watchdog)
      plugins/lsgan.py         copies of the ``--plugin`` files the run was trained with
      views/, views.gif, views.html   2-D runs: GAN Lab's views over training, and a player for them
      checkpoints/step_020000.pt  networks, optimizers, RNG states; ``torch.load(weights_only=True)``
      .lock                    held by the one process that writes the folder (see :meth:`RunFolder.lock`)

The folder is a small transactional store: every file is written atomically (see
:mod:`ganlab.files`); the loss log is written before the checkpoint that commits it, so it is never
behind the newest checkpoint; one process at a time writes a folder, under an OS-level lock; temporary
files a killed process left behind are removed by the next writer.
"""
from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import math
import os
import re
import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ganlab.config import RunConfig
from ganlab.data import DatasetSpec
from ganlab.errors import CheckpointError, ConfigError, GanlabError
from ganlab.files import TEMPORARY_SUFFIX, atomic_write_bytes, atomic_write_json, atomic_write_text
from ganlab.version import __version__

try:  # POSIX: an advisory lock the kernel drops when the process dies, however it dies
    import fcntl
except ImportError:  # Windows: no lock; one writer per folder is then up to the user
    fcntl = None  # type: ignore[assignment]

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
        self.trained_metrics_file = self.path / "metrics-trained.json"  # of the trained G, when an EMA samples
        self.metrics_csv_file = self.path / "metrics.csv"  # evaluations during training
        self.metrics_curve_file = self.path / "metrics.png"
        self.events_file = self.path / "events.log"
        self.samples_dir = self.path / "samples"
        self.checkpoints_dir = self.path / "checkpoints"
        self.plugins_dir = self.path / "plugins"
        self.views_dir = self.path / "views"  # 2-D runs: GAN Lab's views, a PNG per frame
        self.views_gif_file = self.path / "views.gif"
        self.views_html_file = self.path / "views.html"  # the frames with a step slider, self-contained
        self.lock_file = self.path / ".lock"
        self._lock_handle = None

    @classmethod
    def create(cls, path: str | os.PathLike) -> RunFolder:
        """Make a new run folder and lock it for this process; refuse one that already holds a run.

        The check for an existing run happens under the lock, so two runs started on one ``--out`` at
        the same moment cannot both pass it.
        """
        folder = cls(path)
        try:
            folder.samples_dir.mkdir(parents=True, exist_ok=True)
            folder.checkpoints_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"Cannot write the run folder --out {folder.path}: {exc.strerror or exc}. "
                              f"Choose a folder you can write to.") from None
        folder.lock()
        if folder.config_file.exists():
            folder.unlock()
            raise ConfigError(
                f"--out {folder.path} already holds a run. Continue it with `ganlab run --resume "
                f"{quoted(folder.path)}`, choose another --out, or delete that folder first."
            )
        return folder

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunFolder:
        """An existing run folder, for reading (sample, eval, compare); :meth:`lock` it to write."""
        folder = cls(path)
        if not folder.config_file.is_file():
            raise CheckpointError(
                f"{folder.path} is not a ganlab run folder (it has no config.json). Give the folder "
                f"that `ganlab run` printed, e.g. runs/cgan-20261128-101500."
            )
        return folder

    # ---- one writer per folder ------------------------------------------------------------------
    def lock(self) -> None:
        """Become the folder's one writer (an OS lock on ``.lock``, held until :meth:`unlock` or exit),
        then remove the temporary files a killed writer left behind."""
        if fcntl is None or self._lock_handle is not None:
            return
        try:
            handle = open(self.lock_file, "a+")  # noqa: SIM115  kept open: the lock lives as long as it
        except OSError as exc:
            raise ConfigError(f"Cannot open {self.lock_file}, the lock of the run folder's one writer: "
                              f"{exc.strerror or exc}. It is a file ganlab makes; remove it and try again.") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise ConfigError(
                f"Another ganlab process (pid {owner}) is writing to {self.path} right now. Wait for it to "
                f"finish, or stop it (Ctrl-C in its terminal, or `kill {owner}`), then try again; two "
                f"processes writing one run folder would mix their files."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle
        self.remove_stale_temporaries()

    def unlock(self) -> None:
        if self._lock_handle is not None:
            self._lock_handle.close()  # closing the file releases the lock
            self._lock_handle = None

    def remove_stale_temporaries(self) -> None:
        """Delete the hidden ``.<name>.<random>.tmp`` files of writes that a kill interrupted.

        Only the folder's writer may do this (under the lock): another process's temporary file could
        be a write in progress.
        """
        patterns = (f".*{TEMPORARY_SUFFIX}", f".*{TEMPORARY_SUFFIX}.*")  # ".x.pt.ab12.tmp", ".v.gif.cd34.tmp.gif"
        folders = [self.path, *(p for p in self.path.iterdir() if p.is_dir())]
        stale = {p for folder in folders for pattern in patterns for p in folder.glob(pattern)}
        if stale:
            size = sum(p.stat().st_size for p in stale)
            for path in stale:
                path.unlink(missing_ok=True)
            print(f"ganlab: removed {len(stale)} temporary file(s) ({size / 1e6:.1f} MB) that an interrupted "
                  f"run left in {self.path}", file=sys.stderr)

    # ---- config.json ----------------------------------------------------------------------------
    def write_config(self, config: RunConfig, spec: DatasetSpec, conditional: bool, device: str,
                     processes: int = 1) -> None:
        """:param processes: how many processes train the run together (torchrun), rank 0's device named."""
        atomic_write_json(self.config_file, {
            "config": config.to_dict(),
            "dataset": asdict(spec),
            "conditional": conditional,
            "device": device,
            "processes": processes,
            "torch_threads": torch.get_num_threads(),
            "versions": {"ganlab": __version__, "torch": torch.__version__},
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
            "plugin_sha256": self.plugin_digests(config.plugin_files),
        })

    def read_config(self) -> tuple[RunConfig, DatasetSpec, dict[str, Any]]:
        try:
            saved = json.loads(self.config_file.read_text())
            config = RunConfig.from_dict(saved["config"]).validate()
            spec = spec_from_dict(saved["dataset"])
        except GanlabError as exc:
            raise CheckpointError(f"{self.config_file} holds a setting ganlab cannot use: {exc} It is "
                                  f"written by `ganlab run`; restore it from a copy, or train a new run.") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(
                f"{self.config_file} is unreadable or incomplete ({type(exc).__name__}: {exc}). It is "
                f"written by `ganlab run`; restore it from a copy, or train a new run."
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
            try:
                code = Path(file).read_bytes()
            except OSError as exc:
                raise ConfigError(f"Cannot read the plugin file {file}: {exc.strerror or exc}. Give the path of "
                                  f"a .py file that exists (--plugin).") from None
            atomic_write_bytes(target, code)
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
            if not path.is_file():
                raise CheckpointError(
                    f"{self.config_file} names the plugin file {file}, but the run folder has no such file: the "
                    f"run was trained with it and cannot be rebuilt without it. Restore it from a copy."
                )
            paths.append(str(path))
        return paths

    def plugin_digests(self, files: list[str]) -> dict[str, str]:
        """A fingerprint (SHA-256) of each plugin file the folder carries, to notice a later edit."""
        return {file: hashlib.sha256((self.path / file).read_bytes()).hexdigest() for file in files
                if (self.path / file).is_file()}

    def changed_plugins(self, files: list[str], saved: dict[str, Any]) -> list[str]:
        """The plugin files that differ from their fingerprint in config.json (none for an older config.json)."""
        before = saved.get("plugin_sha256")
        if not isinstance(before, dict):
            return []
        now = self.plugin_digests(files)
        return [file for file in files if before.get(file) != now.get(file)]

    # ---- checkpoints ----------------------------------------------------------------------------
    def checkpoint_file(self, step: int) -> Path:
        return self.checkpoints_dir / f"step_{step:06d}.pt"

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, oldest step first."""
        if self.checkpoints_dir.exists() and not self.checkpoints_dir.is_dir():
            raise CheckpointError(f"{self.checkpoints_dir} should be the folder of the run's checkpoints, but it is "
                                  f"a file. Move it away; the run's checkpoints are gone unless you have a copy.")
        found = [p for p in self.checkpoints_dir.glob("step_*.pt") if _CHECKPOINT_NAME.search(p.name) and p.is_file()]
        return sorted(found, key=lambda p: int(_CHECKPOINT_NAME.search(p.name).group(1)))

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint, or None when the run has not reached its first one."""
        found = self.checkpoints()
        return found[-1] if found else None

    @staticmethod
    def step_named(path: str | os.PathLike) -> int | None:
        """The step a checkpoint's file name says (``step_002000.pt``: 2000), or None for another name."""
        found = _CHECKPOINT_NAME.search(Path(path).name)
        return int(found.group(1)) if found else None

    def checkpoint_named(self, name: str | os.PathLike) -> Path:
        """A checkpoint chosen by the user: a path, or a file name or step number in checkpoints/."""
        text = str(name)
        candidates = [Path(text), self.checkpoints_dir / text, self.checkpoints_dir / f"{text}.pt"]
        if text.isdigit():
            candidates.append(self.checkpoint_file(int(text)))
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        have = [p.name for p in self.checkpoints()]
        if not have:
            raise CheckpointError(f"No checkpoint {text!r} in {self.path}: it has no checkpoint yet.")
        raise CheckpointError(f"No checkpoint {text!r} in {self.path}. Its checkpoints: {', '.join(have)}. Give "
                              f"one of them (a file name or a step), e.g. --checkpoint {have[-1]}.")

    # ---- losses.csv -----------------------------------------------------------------------------
    def write_losses(self, records: list[dict[str, float]]) -> None:
        """One row per step: the core's columns, then every named term a plugin logged (in order seen)."""
        extra = list(dict.fromkeys(key for record in records for key in record if key not in LOSS_COLUMNS))
        atomic_write_text(self.losses_file, _csv_text((*LOSS_COLUMNS, *extra), records))

    def read_losses(self) -> list[dict[str, float]]:
        """Every row of the loss log: one per step, in order (a log that lost its first rows may start later)."""
        rows = _read_csv(self.losses_file, "the loss log")
        records = [{k: (int(v) if k == "step" else float(v)) for k, v in row.items() if v != ""} for row in rows]
        for line, record in enumerate(records, start=2):  # training stops at the first non-finite loss
            if not all(math.isfinite(record.get(k, math.nan)) for k in ("d_loss", "g_loss")):
                raise CheckpointError(f"{self.losses_file} (the loss log) is damaged at line {line}: step "
                                      f"{record['step']} has no finite d_loss and g_loss, which ganlab never "
                                      f"writes. Restore it from a copy, or move it away to continue without the "
                                      f"earlier rows.")
        for line, (before, after) in enumerate(zip(records, records[1:]), start=3):
            if after["step"] != before["step"] + 1:
                raise CheckpointError(f"{self.losses_file} (the loss log) is damaged at line {line}: step "
                                      f"{after['step']} follows step {before['step']}, but it holds one row per step, "
                                      f"in order. It is a record ganlab writes; restore it from a copy, or move it "
                                      f"away to continue without the earlier rows.")
        return records

    def losses_until(self, step: int) -> list[dict[str, float]]:
        """The loss log up to a checkpoint's step, to continue it; a note when it stops short of that step
        (moved away, emptied or cut by hand: it then goes on without the rows in between)."""
        records = [r for r in self.read_losses() if r["step"] <= step]
        last = records[-1]["step"] if records else 0
        if last < step:
            print(f"ganlab: note: {self.losses_file} has no rows for steps {last + 1}-{step}; the loss log continues "
                  f"from step {step + 1} without them.", file=sys.stderr)
        return records

    # ---- metrics.json, metrics.csv --------------------------------------------------------------
    def write_metrics(self, metrics: dict[str, Any], trained_generator: bool = False) -> None:
        atomic_write_json(self.trained_metrics_file if trained_generator else self.metrics_file, metrics)

    def read_metrics(self) -> dict[str, Any] | None:
        """The final evaluation, or None when the run has none yet."""
        if not self.metrics_file.exists():
            return None
        try:
            metrics = json.loads(self.metrics_file.read_text())
            if not isinstance(metrics, dict):
                raise ValueError("it is not a JSON object")
            bad = [k for k, v in metrics.items() if k not in ("variant", "dataset", "sampled_from")
                   and not (v is None or isinstance(v, (int, float, list)))
                   and not (k == "second_opinion" and isinstance(v, dict))]
            if bad:
                raise ValueError(f"{', '.join(bad)} should be numbers")
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{self.metrics_file} is damaged ({exc}). Delete it; `ganlab eval "
                                  f"{quoted(self.path)}` measures the run again and writes a new one.") from None
        return metrics

    def write_metric_curve(self, rows: list[dict[str, Any]], metric_names: tuple[str, ...]) -> None:
        """Evaluations during training: one row per evaluation, empty cells for metrics not measured."""
        rows = [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]
        atomic_write_text(self.metrics_csv_file, _csv_text((*METRIC_CURVE_COLUMNS, *metric_names), rows))

    def read_metric_curve(self) -> list[dict[str, Any]]:
        rows = _read_csv(self.metrics_csv_file, "the metric curve")
        return [{k: (int(v) if k in ("step", "n_samples") else (float(v) if v != "" else None))
                 for k, v in row.items()} for row in rows]

    # ---- events.log -----------------------------------------------------------------------------
    def log_event(self, message: str) -> None:
        """Append one line to events.log (rewritten whole, atomically: a crash cannot cut a line)."""
        previous = self.events_file.read_text() if self.events_file.exists() else ""
        atomic_write_text(self.events_file, previous + message.rstrip("\n") + "\n")


def quoted(path: str | os.PathLike) -> str:
    """A path as a shell word that pastes back correctly (spaces, quotes)."""
    return shlex.quote(str(path))


def _read_csv(path: Path, what: str) -> list[dict[str, str]]:
    """Every row of a CSV file the run wrote, checked: a damaged row is a message naming its line."""
    if not path.exists():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CheckpointError(f"{path} ({what}) is damaged: it is not a CSV text file ({exc}). It is a record ganlab "
                              f"writes; restore it from a copy, or move it away to continue without the earlier "
                              f"rows.") from None
    for line, row in enumerate(rows, start=2):
        values = list(row.values())
        damaged = None in row or any(v is None for v in values) or not row.get("step", "").isdigit()
        if not damaged:
            try:
                [float(v) for v in values if v != ""]
            except ValueError:
                damaged = True
        if damaged:
            raise CheckpointError(f"{path} ({what}) is damaged at line {line}: {','.join(str(v) for v in values)!r}. "
                                  f"It is a record ganlab writes; restore it from a copy, or move it away to "
                                  f"continue without the earlier rows.")
    return rows


def spec_from_dict(values: dict[str, Any]) -> DatasetSpec:
    """The dataset's description in config.json, checked: a wrong value would build wrong networks."""
    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    name, shape, count, names = (values[key] for key in ("name", "image_shape", "num_classes", "class_names"))
    if not isinstance(name, str):
        raise ValueError(f"dataset.name should be text, not {name!r}")
    kind = values.get("sample_kind", "image")  # runs saved before 2-D data had none
    if kind not in ("image", "points"):
        raise ValueError(f"dataset.sample_kind should be \"image\" or \"points\", not {kind!r}")
    if not (isinstance(shape, list) and len(shape) == (3 if kind == "image" else 1) and all(map(whole, shape))):
        wanted = "[channels, height, width]" if kind == "image" else "[dimensions]"
        raise ValueError(f"dataset.image_shape should be {wanted}, not {shape!r}")
    if not whole(count):
        raise ValueError(f"dataset.num_classes should be a whole number >= 1, not {count!r}")
    if not (isinstance(names, list) and len(names) == count and all(isinstance(n, str) for n in names)):
        raise ValueError(f"dataset.class_names should be {count} names, not {names!r}")
    return DatasetSpec(name=name, image_shape=tuple(shape), num_classes=count, class_names=tuple(names),
                       sample_kind=kind)


def _csv_text(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column, "")) for column in columns])
    return text.getvalue()


def _cell(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
