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
from ganlab.sampling import choose_labels, save_grid, save_npz
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
    run = prepare(config, dataset.spec, pm, overrides, world)
    compile_networks(run)
    run.keeps_checkpoints = write_files
    if write_files and world.is_main:
        run.folder = RunFolder.create(config.out or default_run_dir(config.variant))
        config.plugin_files = run.folder.keep_plugin_files(config.plugin_files)
        run.folder.write_config(config, run.spec, run.conditional, str(run.device))
    register_observers(run, dataset, quiet)
    run_loop(run, RealBatches(dataset, run.device))
    distributed.leave(world)  # not after an error: torchrun ends the other processes then
    return run


def resume(run_dir, steps: int | None = None, dataset: Dataset | None = None, quiet: bool = False,
           device: str | None = None) -> TrainingRun:
    """Continue a run from its latest checkpoint, to its own ``steps`` or to a new, larger ``steps``.

    Networks, optimizers, the step counter, every RNG state, the plugins' state, the loss log and the
    fixed latent come back as they were, so on the CPU the result is bit-identical to a run that
    never stopped. Under torchrun every process calls this (the run folder must be readable by all);
    on as many processes as saved the checkpoint, the run continues bit for bit too.
    """
    world = distributed.join(device or RunFolder.open(run_dir).read_config()[0].device)
    run, checkpoint = restore(run_dir, device=device, world=world)
    if not world.is_main:
        run.folder = None  # rank 0 alone writes
    run.keeps_checkpoints = True
    if steps is not None:
        if steps < run.step:
            raise ConfigError(f"--steps {steps} is before the checkpoint's step {run.step}; give at "
                              f"least {run.step}.")
        run.config.steps = steps
        if run.folder:
            run.folder.write_config(run.config, run.spec, run.conditional, str(run.device))
    with distributed.local_main_first(world):
        dataset = dataset or load_dataset(run.config.dataset, run.config.data_path, **run.config.data_options)
    if dataset.spec.image_shape != run.spec.image_shape or dataset.spec.num_classes != run.spec.num_classes:
        raise ConfigError(f"The data now found for {run.config.dataset} has another shape than the run "
                          f"was trained on; give the original file with --data.")
    batches = RealBatches(dataset, run.device)
    compile_networks(run)
    register_observers(run, dataset, quiet)
    run.restore_plugin_state(checkpoint)
    run.restore_random_streams(checkpoint)
    run_loop(run, batches)
    distributed.leave(world)
    return run


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


def evaluate(run_dir, n: int = 10_000, checkpoint=None, device: str = "cpu", write: bool = True) -> dict:
    """Measure a saved run's latest (or given) checkpoint; write ``metrics.json`` into the run folder.

    The function behind ``ganlab eval``.
    """
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
    run = load_run(run_dir, checkpoint=checkpoint, device=device)
    labels = choose_labels(run.spec.num_classes, run.conditional, n, label, per_class).to(run.device)
    images = run.sample(labels, torch.Generator().manual_seed(seed))
    if str(out).lower().endswith(".npz"):
        save_npz(out, images, labels if run.conditional else None)
    elif per_class is not None:
        save_grid(images, out, ncols=per_class, row_names=list(run.spec.class_names))
    else:
        titles = [run.spec.class_names[i] for i in labels.tolist()] if run.conditional and len(labels) <= 50 else None
        save_grid(images, out, ncols=min(10, len(labels)), titles=titles)
    return len(labels)


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
    runs = [_run_summary(run_dir, n) for run_dir in run_dirs]
    page, png = report_pages(runs)
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "report.html", page)
    atomic_save(out_dir / "report.png", lambda handle: handle.write(png))
    return out_dir / "report.html"


def _run_summary(run_dir, n: int) -> dict:
    """What the report shows of one run; evaluates it first if it has no metrics.json yet."""
    folder = RunFolder.open(run_dir)
    config, spec, _ = folder.read_config()
    metrics = folder.read_metrics()
    if metrics is None and has_classifier(spec.name):
        metrics = evaluate(run_dir, n=n)
    return {"name": folder.path.name, "variant": config.variant, "dataset": spec.name, "folder": folder,
            "losses": folder.read_losses(), "metrics": metrics, "curve": folder.read_metric_curve()}
