"""The settings of one training run.

The defaults are the tutorial's. It counts "epochs", but each of its epochs is a single batch of 32
images, i.e. one training *step*; ganlab says "step" throughout.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganlab.errors import ConfigError

D_UPDATE_MODES = ("auto", "joint", "separate")
MAX_SEED = 2**64 - 1  # the largest seed torch's generators take
# What may change when a run is continued: how long, how often it records, where it runs. The rest
# (the variant, the data, the optimizer's settings, the seed, ...) makes it another run.
RESUMABLE_SETTINGS = ("steps", "keep_checkpoints", "checkpoint_every", "eval_every", "device", "threads",
                      "tensorboard")


@dataclass
class RunConfig:
    # What to train
    variant: str = "cgan"  # plugin name(s); "a+b" asks a first, then b
    plugin_files: list[str] = field(default_factory=list)  # extra plugins loaded from .py files
    dataset: str = "mnist"
    data_path: str | None = None  # a dataset file or folder; None = the cache, downloading if needed
    data_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"labels": ...} for idx files
    settings: dict[str, Any] = field(default_factory=dict)  # plugin settings (``--set k=v``)

    # How long, and how (the tutorial's numbers)
    steps: int = 20_000  # the tutorial's "epochs": one batch each
    batch_size: int = 32
    latent_dim: int = 100
    lr: float = 2e-4  # Adam, for both networks
    d_lr: float | None = None  # the discriminator's own rate (TTUR, Heusel et al. 2017); None = lr
    beta1: float = 0.5
    beta2: float = 0.999
    # "joint": one Adam step on the real + fake loss (the papers; PyTorch-GAN takes the mean, which
    # Adam does not tell apart from the sum). "separate": the tutorial's two train_on_batch calls, an
    # Adam step on the real batch, then one on the fake batch. "auto": the variant's choice (the
    # ganlab_discriminator_update hook): gan and cgan choose "separate", like the tutorial.
    d_update: str = "auto"

    # What to record
    sample_every: int = 200  # a sample grid every N steps, from one fixed noise batch
    checkpoint_every: int = 2_000  # 0 = only the final checkpoint
    keep_checkpoints: int = 0  # keep only the newest N checkpoints; 0 = keep them all
    log_every: int = 100  # read losses back from the device every N steps
    eval_every: int = 0  # evaluate with the project's classifier every N steps; 0 = only at the end
    eval_samples: int = 2_000  # samples per evaluation during training
    final_eval_samples: int = 10_000  # samples for the final metrics.json; 0 = no final evaluation
    watchdog_steps: int = 2_000  # warn when D is near-perfect this many steps in a row; 0 = off
    views_every: int = 0  # 2-D data: GAN Lab's views every N steps; 0 = about 25 frames a run
    tensorboard: bool = False  # also write TensorBoard events into <run>/tensorboard/ (needs ganlab[tensorboard])

    # Where and how to run
    seed: int | None = None  # None = draw one (it is saved in config.json)
    device: str = "auto"  # auto = cuda, then mps, then cpu
    threads: int = 0  # CPU threads for this run's tensor work; 0 = torch's default (one per core)
    out: str | None = None  # run folder; None = runs/<variant>-<timestamp>

    # Speed switches for CUDA GPUs, all off until measured (benchmarks/README.md). A switch that cannot
    # help on the run's device is turned off with a note, so config.json records what the run used.
    amp: bool = False  # bf16 autocast: matrix products in bfloat16 (GPUs with bf16: Ampere or newer)
    compile: bool = False  # torch.compile the generator and the discriminator
    cuda_graphs: bool = False  # replay each network's kernels as CUDA graphs (compile, mode="reduce-overhead")
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch (SyncBatchNorm)

    def validate(self) -> RunConfig:
        """Check every value; raise ConfigError naming the setting and its allowed range."""
        for name in ("steps", "batch_size", "latent_dim", "sample_every", "log_every"):
            _require_positive_int(name, getattr(self, name))
        if self.batch_size < 2:
            raise ConfigError(f"batch_size must be at least 2 (BatchNorm, in most of the networks, needs two "
                              f"samples to normalise over), not {self.batch_size}.")
        self._check_types()
        for name in ("eval_every", "final_eval_samples", "keep_checkpoints", "threads", "views_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be 0 (off) or a positive whole number, not {value!r}.")
        if not isinstance(self.eval_samples, int) or self.eval_samples < 2:
            raise ConfigError(f"eval_samples must be at least 2, not {self.eval_samples!r}.")
        if self.final_eval_samples == 1:  # the metrics compare the spread of the samples: one has none
            raise ConfigError("final_eval_samples must be 0 (no final evaluation) or at least 2, not 1.")
        if not isinstance(self.watchdog_steps, int) or self.watchdog_steps < 0:
            raise ConfigError(f"watchdog_steps must be 0 (off) or a positive number of steps, not "
                              f"{self.watchdog_steps!r}.")
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise ConfigError(
                f"checkpoint_every must be 0 (final checkpoint only) or a positive number of "
                f"steps, not {self.checkpoint_every!r}."
            )
        for name in ("lr", "beta1", "beta2", "d_lr"):
            value = getattr(self, name)
            if name == "d_lr" and value is None:
                continue
            in_range = isinstance(value, (int, float)) and math.isfinite(value) and (
                value > 0 if name in ("lr", "d_lr") else 0 <= value < 1)
            if not in_range:
                allowed = "a positive, finite number" if name in ("lr", "d_lr") else "a number in [0, 1)"
                raise ConfigError(f"{name} must be {allowed}, not {value!r}.")
        if self.d_update not in D_UPDATE_MODES:
            raise ConfigError(
                f"d_update must be one of {', '.join(D_UPDATE_MODES)}, not {self.d_update!r}."
            )
        if self.seed is not None and (not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED):
            raise ConfigError(f"seed must be a whole number from 0 to 2**64 - 1, not {self.seed!r}.")
        return self

    def _check_types(self) -> None:
        """The non-numeric settings have the types they should (a hand-edited config.json may not)."""
        expected: dict[str, type | tuple[type, ...]] = {
            "variant": str, "dataset": str, "d_update": str, "device": str, "data_path": (str, type(None)),
            "out": (str, type(None)), "plugin_files": list, "data_options": dict, "settings": dict,
            "tensorboard": bool, "amp": bool, "compile": bool, "cuda_graphs": bool, "sync_bn": bool}
        for name, kind in expected.items():
            value = getattr(self, name)
            if not isinstance(value, kind):
                raise ConfigError(f"{name} must be a {getattr(kind, '__name__', 'text or null')}, not {value!r}.")
        bad = [f for f in self.plugin_files if not isinstance(f, str)]
        if bad:
            raise ConfigError(f"plugin_files must be a list of file paths (text), not {self.plugin_files!r}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Rebuild a config, rejecting unknown keys by name (a typo must not pass silently)."""
        check_known_keys(values, "")
        return cls(**values)


def check_known_keys(values: dict[str, Any], where: str) -> None:
    """Refuse keys that are not RunConfig fields, by name, with the nearest known name."""
    known = [f.name for f in dataclasses.fields(RunConfig)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        hints = [f"{name} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(name, known, n=1))
                 else name for name in unknown]
        raise ConfigError(f"Unknown setting(s) {', '.join(hints)}{where}. Known settings: {', '.join(sorted(known))}.")


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings in a config file, for ``ganlab run --config``: a TOML file of RunConfig fields, or a
    run folder's ``config.json`` (to repeat that run; its ``out`` is left out, since that folder holds a
    run already, and its plugin files are found inside it).

    Plugin settings go in a ``[settings]`` table of the TOML file; plugin file paths are relative to
    the config file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not text"
        raise ConfigError(f"--config {path}: cannot read it ({reason or exc}). Give a .toml file or a run "
                          f"folder's config.json.") from None
    if path.suffix.lower() == ".toml":
        values = _parse_toml(text, path)
    else:
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"--config {path} is not valid JSON ({exc}). Give a .toml file or a run "
                              f"folder's config.json.") from None
        if isinstance(values, dict) and isinstance(values.get("config"), dict):  # a run folder's config.json
            values = {k: v for k, v in values["config"].items() if k != "out"}
    if not isinstance(values, dict):
        raise ConfigError(f"--config {path} must hold a table of settings (name = value).")
    check_known_keys(values, f" in {path}")
    _check_file_types(values, path)
    if "plugin_files" in values and isinstance(values["plugin_files"], list):
        values["plugin_files"] = [str(path.parent / f) if isinstance(f, str) else f for f in values["plugin_files"]]
    return values


def _check_file_types(values: dict[str, Any], path: Path) -> None:
    """Refuse a config file's values of the wrong type now: they become the command's option values,
    and a number where a path belongs would reach the file system as a file descriptor."""
    try:
        RunConfig(**values)._check_types()
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"--config {path}: {exc}") from None
    options = values.get("data_options", {})
    if not isinstance(options.get("labels", ""), str) or options.get("image_size", 28) not in (28, 32, 64):
        raise ConfigError(f"--config {path}: data_options takes labels (a file path, text) and image_size (28, 32 "
                          f"or 64), not {options!r}.")


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ImportError:
        raise ConfigError(f"--config {path}: reading TOML needs Python 3.11 or newer (tomllib); give the "
                          f"settings as JSON instead.") from None
    try:
        values: dict[str, Any] = tomllib.loads(text)
        return values
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path} is not valid TOML ({exc}).") from None


def _require_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive whole number, not {value!r}.")
