"""Loading a run back: to sample from it, or to continue training exactly where it stopped."""
from __future__ import annotations

from ganlab.data import Dataset, load_dataset
from ganlab.errors import CheckpointError, ConfigError
from ganlab.plugins import make_plugin_manager
from ganlab.runs import RunFolder, check_checkpoint_matches, load_checkpoint, set_rng_state
from ganlab.trainer import RealBatches, TrainingRun, prepare, register_observers, run_loop


def restore(run_dir, checkpoint=None, device: str | None = None) -> TrainingRun:
    """Rebuild a saved run (same plugins, same settings) and load a checkpoint into it.

    :param checkpoint: a checkpoint file; the run folder's latest when None.
    :param device: where to put the networks; the run's own ``--device`` setting when None.
    """
    folder = RunFolder.open(run_dir)
    config, spec, _ = folder.read_config()
    if device is not None:
        config.device = device
    path = checkpoint or folder.latest_checkpoint()
    run = prepare(config, spec, make_plugin_manager(config.variant, folder.plugin_paths(config.plugin_files)))
    payload = load_checkpoint(path, run.device)
    check_checkpoint_matches(payload, config.variant, spec, path)
    try:
        run.generator.load_state_dict(payload["generator"])
        run.discriminator.load_state_dict(payload["discriminator"])
        run.opt_g.load_state_dict(payload["opt_g"])
        run.opt_d.load_state_dict(payload["opt_d"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(
            f"Checkpoint {path} does not fit the networks that {config.variant} builds "
            f"({str(exc).splitlines()[0]}). It was made by a different version of the plugin; use "
            f"a checkpoint from the same version."
        ) from None
    run.fixed_noise = payload["fixed_noise"].to(run.device)
    run.step = int(payload["step"])
    run.folder = folder
    run.records = [r for r in folder.read_losses() if r["step"] <= run.step]
    run.checkpoint_rng = payload.get("rng")
    return run


def resume(run_dir, steps: int | None = None, dataset: Dataset | None = None, quiet: bool = False,
           device: str | None = None) -> TrainingRun:
    """Continue a run from its latest checkpoint, to its own ``steps`` or to a new, larger ``steps``.

    Networks, optimizers, the step counter, every RNG state, the loss log and the fixed noise come
    back as they were, so on the CPU the result is bit-identical to a run that never stopped.
    """
    run = restore(run_dir, device=device)
    if steps is not None:
        if steps < run.step:
            raise ConfigError(f"--steps {steps} is before the checkpoint's step {run.step}; give at "
                              f"least {run.step}.")
        run.config.steps = steps
        run.folder.write_config(run.config, run.spec, run.conditional, str(run.device))
    dataset = dataset or load_dataset(run.config.dataset, run.config.data_path, **run.config.data_options)
    if dataset.spec.image_shape != run.spec.image_shape or dataset.spec.num_classes != run.spec.num_classes:
        raise ConfigError(f"The data now found for {run.config.dataset} has another shape than the run "
                          f"was trained on; give the original file with --data.")
    batches = RealBatches(dataset, run.device)
    set_rng_state(run.checkpoint_rng)
    register_observers(run, dataset, quiet)
    run_loop(run, batches)
    return run
