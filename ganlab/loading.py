"""Loading a saved run back: the same plugins, the same settings, a checkpoint's weights and state.

Used to sample from a run, to evaluate it, and to continue training it exactly where it stopped.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch

from ganlab.checkpoints import check_checkpoint_matches, load_checkpoint
from ganlab.config import RunConfig
from ganlab.data import DatasetSpec
from ganlab.distributed import ONE_PROCESS, World
from ganlab.errors import CheckpointError
from ganlab.plugins import make_plugin_manager
from ganlab.runs import RunFolder, quoted
from ganlab.training_run import TrainingRun, prepare

TRUST_VARIABLE = "GANLAB_TRUST_RUN_PLUGINS"  # =1: run a run folder's plugin files without the warning
_warned: set[str] = set()  # run folders already warned about in this process


def warn_about_carried_plugins(folder: RunFolder, files: list[str]) -> None:
    """One line on stderr before ganlab runs plugin code that came inside a run folder.

    A run folder carries its ``--plugin`` files so it can be rebuilt anywhere; a folder someone sent
    you therefore runs *their* code on your machine, as a notebook would. Say so, once per folder.
    """
    key = str(folder.path.resolve())
    if not files or os.environ.get(TRUST_VARIABLE) == "1" or key in _warned:
        return
    _warned.add(key)
    print(f"ganlab: note: this run folder carries plugin code ({', '.join(files)}) that ganlab runs now, with "
          f"your permissions; use run folders you trust (--trust-plugins or {TRUST_VARIABLE}=1 silences this).",
          file=sys.stderr)


def restore(run_dir, checkpoint=None, device: str | None = None, allow_no_checkpoint: bool = False,
            world: World = ONE_PROCESS) -> tuple[TrainingRun, dict[str, Any] | None]:
    """Rebuild a saved run (same plugins, same settings) and load a checkpoint into it.

    :param checkpoint: a checkpoint (a path, or a file name or step in the folder's checkpoints/);
        the run folder's latest when None.
    :param device: where to put the networks; the run's own ``--device`` setting when None.
    :param allow_no_checkpoint: for a folder stopped before its first checkpoint, return the run as it
        was at step 0 (same seed, so the same start) instead of refusing.
    :param world: the processes that continue the run together (torchrun); each calls ``restore``.
    :returns: the run, and the checkpoint it was loaded from (None at step 0): its ``"rng"`` states
        continue the random streams exactly; its ``"plugin_state"`` goes to
        :meth:`TrainingRun.restore_plugin_state` once every plugin (observers included) is registered.
    """
    folder = RunFolder.open(run_dir)
    config, spec, saved = folder.read_config()
    if device is not None:
        config.device = device
    path = folder.checkpoint_named(checkpoint) if checkpoint is not None else folder.latest_checkpoint()
    if path is None and not allow_no_checkpoint:
        raise CheckpointError(f"{folder.path} has no checkpoint yet (it stopped before its first one), so there "
                              f"are no weights to use. Continue it from step 0 with `ganlab run --resume "
                              f"{quoted(folder.path)}`, or delete the folder.")
    plugin_files = folder.plugin_paths(config.plugin_files)
    warn_about_carried_plugins(folder, config.plugin_files)
    changed = folder.changed_plugins(config.plugin_files, saved)
    if changed:
        print(f"ganlab: note: {', '.join(changed)} changed since the run wrote config.json; the run is rebuilt with "
              f"the changed code, so it may not behave as it was trained.", file=sys.stderr)
    run = prepare(config, spec, make_plugin_manager(config.variant, plugin_files), world=world)
    run.folder = folder
    if path is None:
        return run, None
    try:
        payload = checked_checkpoint(folder, config, spec, path, run.device)
        run.load_checkpoint(payload, path)
    except CheckpointError as exc:
        other = usable_checkpoint(folder, config, spec, besides=path)
        hint = (f" The newest checkpoint of this run that is intact is {other}: give --checkpoint {other} (e.g. "
                f"`ganlab run --resume {quoted(folder.path)} --checkpoint {other}`)." if other else "")
        raise CheckpointError(f"{exc}{hint}") from None
    return run, payload


def checked_checkpoint(folder: RunFolder, config: RunConfig, spec: DatasetSpec, path: Path,
                       device: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint loaded safely, its fields checked, and checked to be of the run in the folder."""
    payload = load_checkpoint(path, device)
    check_checkpoint_matches(payload, config, spec, path)
    named = folder.step_named(path)
    if named is not None and named != payload["step"]:
        raise CheckpointError(f"Checkpoint {path} is damaged: it holds step {payload['step']}, but its name "
                              f"says step {named}.")
    return payload


def usable_checkpoint(folder: RunFolder, config: RunConfig, spec: DatasetSpec, besides: Path) -> str | None:
    """The newest checkpoint of the folder other than ``besides`` that passes :func:`checked_checkpoint`
    (only on the way to an error message: each one tried is loaded)."""
    for path in reversed(folder.checkpoints()):
        if path.resolve() == besides.resolve():
            continue
        try:
            checked_checkpoint(folder, config, spec, path)
        except CheckpointError:
            continue
        return path.name
    return None


def load_run(run_dir, checkpoint=None, device: str = "cpu") -> TrainingRun:
    """A saved run, ready to sample from: ``run.sample(labels)``, ``run.generator``, ``run.config``.

    :param checkpoint: a checkpoint file; the run folder's latest when None.
    """
    run, payload = restore(run_dir, checkpoint, device)
    run.restore_plugin_state(payload)
    return run
