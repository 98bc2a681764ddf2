"""Loading a saved run back: the same plugins, the same settings, a checkpoint's weights and state.

Used to sample from a run, to evaluate it, and to continue training it exactly where it stopped.
"""
from __future__ import annotations

from typing import Any

from ganlab.distributed import ONE_PROCESS, World
from ganlab.plugins import make_plugin_manager
from ganlab.runs import RunFolder, check_checkpoint_matches, load_checkpoint
from ganlab.training_run import TrainingRun, prepare


def restore(run_dir, checkpoint=None, device: str | None = None,
            world: World = ONE_PROCESS) -> tuple[TrainingRun, dict[str, Any]]:
    """Rebuild a saved run (same plugins, same settings) and load a checkpoint into it.

    :param checkpoint: a checkpoint file; the run folder's latest when None.
    :param device: where to put the networks; the run's own ``--device`` setting when None.
    :param world: the processes that continue the run together (torchrun); each calls ``restore``.
    :returns: the run, and the checkpoint it was loaded from: its ``"rng"`` states continue the
        random streams exactly; its ``"plugin_state"`` goes to :meth:`TrainingRun.restore_plugin_state`
        once every plugin (observers included) is registered.
    """
    folder = RunFolder.open(run_dir)
    config, spec, _ = folder.read_config()
    if device is not None:
        config.device = device
    path = checkpoint or folder.latest_checkpoint()
    run = prepare(config, spec, make_plugin_manager(config.variant, folder.plugin_paths(config.plugin_files)),
                  world=world)
    payload = load_checkpoint(path, run.device)
    check_checkpoint_matches(payload, config.variant, spec, path)
    run.folder = folder
    run.load_checkpoint(payload, path)
    run.records = [r for r in folder.read_losses() if r["step"] <= run.step]
    return run, payload


def load_run(run_dir, checkpoint=None, device: str = "cpu") -> TrainingRun:
    """A saved run, ready to sample from: ``run.sample(labels)``, ``run.generator``, ``run.config``.

    :param checkpoint: a checkpoint file; the run folder's latest when None.
    """
    run, payload = restore(run_dir, checkpoint, device)
    run.restore_plugin_state(payload)
    return run
