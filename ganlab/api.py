"""ganlab's public functions: the commands of the CLI, for Python.

``ganlab run`` is :func:`train` (or :func:`resume`), ``ganlab eval`` is :func:`evaluate`,
``ganlab sample`` is :func:`sample`, ``ganlab compare`` is :func:`compare`. The CLI, the tutorials and
the tests all call these, and ``import ganlab`` exposes them::

    import ganlab
    run = ganlab.train(ganlab.RunConfig(variant="cgan", steps=2000))
    ganlab.sample(run.folder.path, "sevens.png", label=7)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pluggy
import torch

from ganlab import distributed
from ganlab.config import RunConfig
from ganlab.data import Dataset, load_dataset
from ganlab.errors import ConfigError
from ganlab.evaluation import evaluate_samples, has_classifier
from ganlab.figures import report_pages
from ganlab.files import atomic_save, atomic_write_text
from ganlab.loading import load_run, restore
from ganlab.observers.evaluator import Evaluator
from ganlab.observers.progress import ProgressPrinter
from ganlab.observers.tensorboard import summary_writer_class, tensorboard_observer
from ganlab.observers.watchdog import DiscriminatorWatchdog
from ganlab.plugins import make_plugin_manager, register_plugin
from ganlab.runs import RunFolder, default_run_dir
from ganlab.sampling import choose_labels, save_grid, save_npz, to_uint8_images
from ganlab.trainer import RealBatches, run_loop
from ganlab.training_run import TrainingRun, compile_networks, prepare

__all__ = ["train", "resume", "evaluate", "sample", "compare", "load_run", "register_observers"]


def train(config: RunConfig, dataset: Dataset | None = None, pm: pluggy.PluginManager | None = None,
          quiet: bool = False, write_files: bool = True, overrides: dict[str, Any] | None = None
          ) -> TrainingRun:
    """Train a variant from scratch; the function behind ``ganlab run``.

    :param dataset: the data; loaded from ``config.dataset`` / ``config.data_path`` when None.
    :param pm: a plugin manager; built from ``config.variant`` when None.
    :param write_files: False trains without a run folder (for quick experiments and tests).
    :param overrides: plugin settings from the user (``--set``), checked against the declarations.
    :returns: the run; ``run.outcome`` is ``"finished"``, or ``"stopped"`` after Ctrl-C/SIGTERM.

    Started by ``torchrun``, every process calls this: they train the run together, and rank 0
    alone writes the run folder (``run.folder`` is None on the others).
    """
    config.validate()
    if config.tensorboard:
        summary_writer_class()  # not installed: say how to install it before anything is trained
    pm = pm or make_plugin_manager(config.variant, config.plugin_files)  # a bad variant fails before any download
    world = distributed.join(config.device)  # several processes under torchrun; one otherwise
    with distributed.local_main_first(world):  # one download or decoding per machine, then the others read the cache
        dataset = dataset or load_dataset(config.dataset, config.data_path, **config.data_options)
    if config.eval_every:
        require_classifier(dataset.spec.name, "--eval-every")
    run = prepare(config, dataset.spec, pm, overrides, world)
    compile_networks(run)
    run.keeps_checkpoints = write_files
    if write_files and world.is_main:  # rank 0 alone writes the run folder
        run.folder = RunFolder.create(config.out or default_run_dir(config.variant))  # locked: one writer
    try:
        if run.folder:
            config.plugin_files = run.folder.keep_plugin_files(config.plugin_files)
            run.folder.write_config(config, run.spec, run.conditional, str(run.device), run.world.size)
        register_observers(run, dataset, quiet)
        run_loop(run, RealBatches(dataset, run.device))
    finally:
        if run.folder:
            run.folder.unlock()
    distributed.leave(world)  # not after an error: torchrun ends the other processes then
    return run


# What may change when a run is continued: how long, how often it records, where it runs. The rest
# (the variant, the data, the optimizer's settings, ...) makes it another run.
RESUME_CHANGES = ("steps", "keep_checkpoints", "checkpoint_every", "eval_every", "device", "tensorboard")


def resume(run_dir, steps: int | None = None, dataset: Dataset | None = None, quiet: bool = False,
           checkpoint=None, **changes: Any) -> TrainingRun:
    """Continue a run from its latest (or a chosen) checkpoint, to its own or a new ``steps``.

    Networks, optimizers, the step counter, every RNG state, the plugins' state, the loss log and the
    fixed latent come back as they were, so on the CPU the result is bit-identical to a run that
    never stopped. A run stopped before its first checkpoint continues from step 0 (same seed, same
    start). Under torchrun every process calls this (each reads the run folder; rank 0 alone writes it);
    on as many processes as saved the checkpoint, the run continues bit for bit too.

    :param checkpoint: a checkpoint of the run (path, file name or step); the latest when None.
    :param changes: new values for the settings in :data:`RESUME_CHANGES` (e.g. ``keep_checkpoints=3``,
        ``device="cuda"``); any other setting is refused by name.
    """
    refused = sorted(set(changes) - set(RESUME_CHANGES))
    if refused:
        raise ConfigError(f"A resumed run keeps its settings; {', '.join(refused)} cannot change (they would "
                          f"make it another run). Only {', '.join(RESUME_CHANGES)} may; for other settings "
                          f"start a new run.")
    folder = RunFolder.open(run_dir)
    world = distributed.join(changes.get("device") or folder.read_config()[0].device)
    if world.is_main:
        folder.lock()  # before reading anything: another writer may be saving a checkpoint right now
    distributed.barrier(world)  # the other ranks read the folder once rank 0 holds it
    try:
        run, saved = restore(folder.path, checkpoint, device=changes.get("device"), allow_no_checkpoint=True,
                             world=world)
        run.folder = folder if world.is_main else None  # rank 0 alone writes
        run.keeps_checkpoints = True
        continue_with(run, steps, changes)
        with distributed.local_main_first(world):
            dataset = dataset or load_dataset(run.config.dataset, run.config.data_path, **run.config.data_options)
        if dataset.spec.image_shape != run.spec.image_shape or dataset.spec.num_classes != run.spec.num_classes:
            raise ConfigError(f"The data now found for {run.config.dataset} has another shape than the run "
                              f"was trained on; give the original file with --data.")
        batches = RealBatches(dataset, run.device)
        compile_networks(run)
        register_observers(run, dataset, quiet)
        run.restore_plugin_state(saved)
        run.restore_random_streams(saved)
        run_loop(run, batches)
    finally:
        folder.unlock()
    distributed.leave(world)
    return run


def continue_with(run: TrainingRun, steps: int | None, changes: dict[str, Any]) -> None:
    """Apply a resume's new steps and settings to the run, check them, and record them in config.json."""
    if steps is not None:
        if steps < run.step:
            raise ConfigError(f"--steps {steps} is before the checkpoint's step {run.step}; give at "
                              f"least {run.step}.")
        run.config.steps = steps
    for name, value in changes.items():
        setattr(run.config, name, value)
    run.config.validate()
    if run.folder:  # rank 0 of several processes, or the only one
        run.folder.write_config(run.config, run.spec, run.conditional, str(run.device), run.world.size)


def register_observers(run: TrainingRun, dataset: Dataset, quiet: bool) -> None:
    """The core's own observer plugins: evaluation, the discriminator watchdog, TensorBoard (when asked
    for), the progress display. Several processes: rank 0's only (the others train and wait)."""
    config, hook = run.config, run.pm.hook
    if not run.world.is_main:
        return
    if config.eval_every or (config.final_eval_samples and run.folder and has_classifier(dataset.spec.name)):
        announce = lambda view, step, metrics: hook.ganlab_evaluated(run=view, step=step, metrics=metrics)  # noqa: E731
        register_plugin(run.pm, Evaluator(dataset, config.eval_every, config.eval_samples,
                                          config.final_eval_samples, announce), "ganlab.evaluator")
    if config.watchdog_steps:
        register_plugin(run.pm, DiscriminatorWatchdog(patience=config.watchdog_steps), "ganlab.watchdog")
    if config.tensorboard and run.folder:
        register_plugin(run.pm, tensorboard_observer(), "ganlab.tensorboard")
    if not quiet:
        register_plugin(run.pm, ProgressPrinter(), "ganlab.progress")


def require_classifier(dataset_name: str, what: str) -> None:
    """Metrics need the project's classifier for the dataset; say plainly when there is none."""
    if not has_classifier(dataset_name):
        raise ConfigError(
            f"{what} measures samples with a classifier trained on the dataset, and ganlab ships one for "
            f"mnist and fashion-mnist only, not for {dataset_name} data. A run on your own data is not "
            f"measured: its sample grids, losses.csv and loss curve are in the run folder. (Leave out "
            f"{what}; with a source checkout of ganlab, scripts/train_classifier.py shows how the shipped "
            f"classifiers were trained.)")


def evaluate(run_dir, n: int = 10_000, checkpoint=None, device: str = "cpu", write: bool = True) -> dict:
    """Measure a saved run's latest (or given) checkpoint; write ``metrics.json`` into the run folder.

    The function behind ``ganlab eval``.
    """
    require_classifier(RunFolder.open(run_dir).read_config()[1].name, "ganlab eval")
    run = load_run(run_dir, checkpoint=checkpoint, device=device)
    config = run.config
    dataset = load_dataset(config.dataset, config.data_path, **config.data_options)
    metrics = evaluate_samples(run.sample, dataset, n, run.conditional, run.device)
    metrics.update(step=run.step, variant=config.variant, dataset=config.dataset, sampled_from=run.sampling_name)
    if write:
        run.folder.write_metrics(metrics)
    return metrics


def sample(run_dir, out, n: int | None = None, label: int | None = None, per_class: int | None = None,
           seed: int = 0, checkpoint=None, device: str = "cpu") -> int:
    """Load a run's generator and write samples to ``out`` (.png grid or .npz); returns the count.

    The function behind ``ganlab sample``. The latent comes from a generator seeded with ``seed``.
    """
    _, spec, saved = RunFolder.open(run_dir).read_config()  # check the request before loading any weights
    labels = choose_labels(spec.num_classes, bool(saved.get("conditional")), n, label, per_class)
    to_npz = str(out).lower().endswith(".npz")
    if not to_npz and len(labels) > MAX_GRID_SAMPLES:
        raise ConfigError(f"A PNG grid of {len(labels)} samples would be a picture of tens of thousands of "
                          f"pixels a side; a grid takes at most {MAX_GRID_SAMPLES}. Write many samples to an "
                          f".npz file instead (--out samples.npz), or ask for fewer.")
    run = load_run(run_dir, checkpoint=checkpoint, device=device)
    rng = torch.Generator().manual_seed(seed)
    labels = labels.to(run.device)
    if to_npz:  # in bounded batches, each turned into uint8 pixels at once: memory stays small
        pixels = [to_uint8_images(run.sample(batch, rng)) for batch in labels.split(SAMPLE_BATCH)]
        save_npz(out, np.concatenate(pixels), labels if run.conditional else None)
        return len(labels)
    images = run.sample(labels, rng)
    if per_class is not None:
        save_grid(images, out, ncols=per_class, row_names=list(run.spec.class_names))
    else:
        titles = [run.spec.class_names[i] for i in labels.tolist()] if run.conditional and len(labels) <= 50 else None
        save_grid(images, out, ncols=min(10, len(labels)), titles=titles)
    return len(labels)


MAX_GRID_SAMPLES = 2_500  # a 50x50 grid of 28x28 images: about 1 600 pixels a side
SAMPLE_BATCH = 1_000  # samples generated at once when writing an .npz


def train_variants(variants: list[str], out_dir, steps: int, seed: int, dataset: str = "mnist",
                   eval_every: int | None = None, n: int = 10_000, quiet: bool = False) -> list[Path]:
    """Train each variant with one seed, data and budget, into ``out_dir/runs/<variant>``, for :func:`compare`."""
    folders = []
    for variant in variants:
        config = RunConfig(variant=variant, steps=steps, seed=seed, dataset=dataset,
                           eval_every=eval_every if eval_every is not None else max(1, steps // 10),
                           final_eval_samples=n, out=str(Path(out_dir) / "runs" / variant.replace("+", "_")))
        folders.append(train(config, quiet=quiet).folder.path)
    return folders


def compare(run_dirs, out_dir, n: int = 10_000) -> Path:
    """Write ``report.html`` (self-contained: images embedded) and ``report.png`` into ``out_dir``.

    The function behind ``ganlab compare``. Runs without a metrics.json are evaluated first (on ``n``
    samples). Returns the path of report.html.
    """
    folders = check_comparable(run_dirs)  # every input checked before anything is evaluated or written
    runs = [_run_summary(folder, n) for folder in folders]
    page, png = report_pages(runs)
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "report.html", page)
    atomic_save(out_dir / "report.png", lambda handle: handle.write(png))
    return out_dir / "report.html"


def check_comparable(run_dirs) -> list[RunFolder]:
    """Open every run folder and refuse runs of different datasets: their metrics are not on one scale
    (each dataset has its own test split and its own classifier)."""
    folders = [RunFolder.open(run_dir) for run_dir in run_dirs]
    specs = [folder.read_config()[1] for folder in folders]
    kinds = {(spec.name, tuple(spec.image_shape), spec.num_classes) for spec in specs}
    if len(kinds) > 1:
        listing = "; ".join(f"{folder.path} ({spec.name}, {'x'.join(map(str, spec.image_shape))}, "
                            f"{spec.num_classes} classes)" for folder, spec in zip(folders, specs))
        raise ConfigError(f"These runs were trained on different data: {listing}. Their metrics are measured "
                          f"on different test splits and are not comparable; compare runs of one dataset at "
                          f"a time.")
    for folder in folders:
        folder.read_metrics(), folder.read_losses(), folder.read_metric_curve()  # damaged files: refuse now
    return folders


def _run_summary(folder: RunFolder, n: int) -> dict:
    """What the report shows of one run; evaluates it first if it has no metrics.json yet."""
    config, spec, _ = folder.read_config()
    metrics = folder.read_metrics()
    if metrics is None and has_classifier(spec.name):
        metrics = evaluate(folder.path, n=n)
    return {"name": folder.path.name, "variant": config.variant, "dataset": spec.name, "folder": folder,
            "losses": folder.read_losses(), "metrics": metrics, "curve": folder.read_metric_curve()}
